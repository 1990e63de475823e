"""The scorecard: each KPI's actual over a time window (:mod:`kpi_logic.windows`) against the
window's target and against the same window one year earlier, per category and for all
categories together. The dashboard's window cards and ``python -m kpi_logic scorecard`` both
use :func:`scorecard` (or its two steps, so the app re-scores a target move without a query).
With ``engine`` (:mod:`kpi_logic.engines`), ``table`` is a live table of that engine and every
query runs there; ``con`` is not used.

A KPI without a date column has no window: its row covers all time (``window_start`` and
``window_end`` empty). The all-categories row of an additive KPI with ``by`` and no total
target is judged on its categories' window targets added up, as in :mod:`kpi_logic.score`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from kpi_logic import compute, engines, score, tables, window_parts, windows
from kpi_logic.compute import Categories, Record
from kpi_logic.dialects import TableRef
from kpi_logic.model import KPI
from kpi_logic.windows import Window

SCORECARD_COLUMNS = [
    *("kpi", "category", "window_start", "window_end", "actual", "target", "attainment"),
    *("status", "last_year", "change_vs_last_year"),
]


@dataclass(frozen=True)
class WindowChoice:
    """Which window to judge over: its kind (``windows.WINDOWS``), the as-of day (None: the
    last date in each KPI's date column), a range's first and last day, and a fiscal year
    start month overriding the KPI set's."""

    kind: str = "period"
    as_of: date | None = None
    start: date | None = None
    end: date | None = None
    fiscal_year_start: int | None = None


Table = str | TableRef  # a table of the store's connection, or an engine's live table


def spans(
    con: duckdb.DuckDBPyConnection | None,
    table: Table,
    kpis: Sequence[KPI],
    choice: WindowChoice,
    *,
    engine: engines.Engine | None = None,
) -> dict[str, Window | None]:
    """Each KPI's window (None for a KPI without a date column, or without dates)."""
    return windows_of(kpis, choice, date_spans(con, table, kpis, engine=engine))


def date_spans(
    con: duckdb.DuckDBPyConnection | None,
    table: Table,
    kpis: Sequence[KPI],
    *,
    engine: engines.Engine | None = None,
) -> dict[str, tuple[date, date] | None]:
    """Each KPI's first and last day in its date column (None without one or without dates):
    one query per date column."""
    columns = _columns(con, table, engine)
    dates: dict[str, tuple[date, date] | None] = {}
    found: dict[str, tuple[date, date] | None] = {}
    for kpi in kpis:
        time = compute.check_kpi(kpi, columns).time
        if time is not None and time not in dates:
            dates[time] = _date_span(con, table, time, engine)
        found[kpi.name] = None if time is None else dates[time]
    return found


def windows_of(
    kpis: Sequence[KPI], choice: WindowChoice, dates: Mapping[str, tuple[date, date] | None]
) -> dict[str, Window | None]:
    """Each KPI's window for ``choice`` over its data's first and last day (``date_spans``)."""
    found: dict[str, Window | None] = {}
    for kpi in kpis:
        span = dates[kpi.name]
        found[kpi.name] = None if span is None else span_of(kpi, choice, *span)
    return found


def span_of(kpi: KPI, choice: WindowChoice, first: date, last: date) -> Window:
    """``kpi``'s window for ``choice`` over data from ``first`` to ``last``."""
    return windows.window(
        choice.kind,
        choice.as_of or last,
        grain=kpi.grain,
        fiscal_year_start=choice.fiscal_year_start or kpi.fiscal_year_start,
        first=first,
        start=choice.start,
        end=choice.end,
    )


def window_actuals(
    con: duckdb.DuckDBPyConnection | None,
    table: Table,
    kpis: Sequence[KPI],
    spans: Mapping[str, Window | None],
    *,
    categories: Categories | None = None,
    engine: engines.Engine | None = None,
    daily: window_parts.DailyParts | None = None,
) -> list[Record]:
    """Records ``kpi, category, actual, last_year, additive`` over each KPI's window (and the
    same days a year earlier): one query per window and group of KPIs sharing a query, none
    for the KPIs whose window value follows from the per-day parts in ``daily``
    (:func:`daily_parts`, computed with the same ``categories``)."""
    groups: dict[Window | None, list[KPI]] = {}
    for kpi in kpis:
        groups.setdefault(spans[kpi.name], []).append(kpi)
    found: list[Record] = []
    for span, group in groups.items():
        now = _derived_or_over(con, table, group, span, categories, engine, daily)
        before = {}
        if span is not None and span.kind != "all":
            before = {
                (r["kpi"], r["category"]): r["actual"]
                for r in _derived_or_over(
                    con, table, group, span.last_year(), categories, engine, daily
                )
            }
        for record in now:
            last_year = before.get((record["kpi"], record["category"]), math.nan)
            found.append({**record, "last_year": last_year})
    order = {kpi.name: i for i, kpi in enumerate(kpis)}
    found.sort(key=lambda r: (order[r["kpi"]], r["category"] is not None, r["category"] or ""))
    return found


def daily_parts(
    con: duckdb.DuckDBPyConnection | None,
    table: Table,
    kpis: Sequence[KPI],
    *,
    categories: Categories | None = None,
    engine: engines.Engine | None = None,
) -> window_parts.DailyParts:
    """The per-day parts (:mod:`kpi_logic.window_parts`) of the KPIs whose window value
    follows from them, over all dates: any window's actuals then come without a query."""

    def aggregate(parts: list[KPI]) -> list[Record]:
        return _over(con, table, parts, None, categories, engine)

    return window_parts.day_parts(kpis, _columns(con, table, engine), aggregate)


def _derived_or_over(
    con: duckdb.DuckDBPyConnection | None,
    table: Table,
    kpis: list[KPI],
    span: Window | None,
    categories: Categories | None,
    engine: engines.Engine | None,
    daily: window_parts.DailyParts | None,
) -> list[Record]:
    """The KPIs' records over ``span``: from ``daily`` where they follow from it, else one
    query per group."""
    recipes = daily.recipes if daily is not None else {}
    queried = [k for k in kpis if k.name not in recipes]
    records = [
        r
        for k in kpis
        if daily is not None and k.name in recipes
        for r in window_parts.window_records(daily, k, span)
    ]
    if queried:
        records += _over(con, table, queried, span, categories, engine)
    return records


def _over(
    con: duckdb.DuckDBPyConnection | None,
    table: Table,
    kpis: list[KPI],
    span: Window | None,
    categories: Categories | None,
    engine: engines.Engine | None,
) -> list[Record]:
    window: dict = {} if span is None else {"start": span.start, "end": span.end, "whole": True}
    if engine is not None and isinstance(table, TableRef):
        return engines.aggregate_records(engine, table, kpis, categories=categories, **window)
    here, name = _here(con, table)
    return compute.aggregate_records(here, name, kpis, categories=categories, **window)


def _columns(
    con: duckdb.DuckDBPyConnection | None, table: Table, engine: engines.Engine | None
) -> dict[str, str]:
    if engine is not None and isinstance(table, TableRef):
        return engine.columns(table)
    return compute.table_columns(*_here(con, table))


def _date_span(
    con: duckdb.DuckDBPyConnection | None,
    table: Table,
    column: str,
    engine: engines.Engine | None,
) -> tuple[date, date] | None:
    if engine is not None and isinstance(table, TableRef):
        return engines.date_span(engine, table, column)
    return tables.date_span(*_here(con, table), column)


def _here(
    con: duckdb.DuckDBPyConnection | None, table: Table
) -> tuple[duckdb.DuckDBPyConnection, str]:
    """The connection and table name of a table without an engine."""
    if con is None or not isinstance(table, str):
        raise ValueError(f"{table} is a live table: give its engine")
    return con, table


def score_windows(
    actuals: Sequence[Record], kpis: Sequence[KPI], spans: Mapping[str, Window | None]
) -> list[Record]:
    """Each record of ``window_actuals`` with ``window_start, window_end, partial, target,
    attainment, status, change_vs_last_year, allocated`` (the categories' targets added up, on
    the all-categories row of an additive KPI with ``by``). Pure Python: a target move costs
    no query."""
    by_name = {kpi.name: kpi for kpi in kpis}
    allocated = score.allocated_targets(
        actuals, by_name, lambda kpi, record: _target(kpi, record, spans[kpi.name])
    )
    scored = []
    for record in actuals:
        kpi, span = by_name[record["kpi"]], spans[record["kpi"]]
        parts = math.nan
        if record["category"] is None:
            parts = allocated.get((kpi.name, record["period"]), math.nan)
        found = _target(kpi, record, span)
        target = parts if math.isnan(found) else found
        actual = float(record["actual"])
        rate = score.attainment(actual, target, kpi.direction == "lower")
        scored.append(
            {
                **record,
                "window_start": None if span is None else span.start,
                "window_end": None if span is None else span.end,
                "partial": span is not None and span.partial,
                "target": target,
                "attainment": rate,
                "status": score.status_of(
                    actual, target, rate, kpi.bands, kpi.direction == "lower"
                ),
                "change_vs_last_year": actual - record["last_year"],
                "allocated": parts,
            }
        )
    return scored


def _target(kpi: KPI, record: Mapping[str, Any], span: Window | None) -> float:
    """The record's window target, NaN when there is none."""
    additive = bool(record["additive"])
    if span is None:
        found = kpi.target_for(record["category"], None, additive=additive)
    else:
        found = windows.window_target(kpi, record["category"], span, additive=additive)
    return math.nan if found is None else float(found)


def scorecard(
    con: duckdb.DuckDBPyConnection | None,
    table: Table,
    kpis: Sequence[KPI],
    choice: WindowChoice,
    *,
    categories: Categories | None = None,
    engine: engines.Engine | None = None,
) -> list[Record]:
    """Every KPI's scorecard rows (``SCORECARD_COLUMNS`` and more, see ``score_windows``):
    its all-categories row first, then its categories by name."""
    found = spans(con, table, kpis, choice, engine=engine)
    actuals = window_actuals(con, table, kpis, found, categories=categories, engine=engine)
    return score_windows(actuals, kpis, found)
