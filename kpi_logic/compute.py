"""Actuals per KPI x category x period in DuckDB, as plain records (``aggregate_records``).

Records (one dict per KPI x category x period, ``Record``) are the engine's one data shape:
scoring, card facts, pace and charts take them; the UI makes a table of them only where it
shows or exports one.

One query runs per group of KPIs sharing (time column, grain, category column, filter);
ratio measures are recomputed from their sums at every level (GROUPING SETS), never
averaged; a group of sums, counts, minimums and maximums gets its all-categories rows from its
category rows instead (no grouping set). Targets and status come after, in
:mod:`kpi_logic.score`, so a target move never runs a query.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import duckdb

from kpi_logic import expressions
from kpi_logic.errors import (
    ComputeError,
    DataReadError,
    ExpressionError,
    KPIDefinitionError,
    KPIExplorerError,
)
from kpi_logic.ingest_types import logical_type
from kpi_logic.model import GRAINS, KPI, validate
from kpi_logic.sql import quote_ident

AGGREGATE_COLUMNS = ["kpi", "category", "period", "actual", "as_of", "additive"]
BLANK_CATEGORY = "(blank)"  # category of rows whose category cell is empty
COUNT_FUNCTIONS = ("count", "count_distinct")  # 0, not missing, for a cell without rows
ADDITIVE_FUNCTIONS = ("sum", "count")  # a period's value is the sum of its days' values
# one-aggregate measures whose all-categories value is found from the categories' values
TOTAL_OF_CATEGORIES: dict[str, Callable[[list[float]], float]] = {
    "sum": sum,
    "count": sum,
    "min": min,
    "max": max,
}

_H = f"__kpi_{uuid.uuid4().hex[:6]}"  # prefix of helper columns: can't meet a user's
_PERIOD, _CATEGORY, _DAY = (f"{_H}_{n}" for n in ("period", "category", "day"))
_ROWS = f"{_H}_rows"  # alias of the subquery (PostgreSQL before 16 needs one)
_GRAIN_SQL = {grain: f"'{grain}'" for grain in GRAINS}  # a fixed word, as SQL text

Categories = Sequence[str] | Mapping[str, Sequence[str]]
Record = dict[str, Any]  # one KPI x category x period: the keys of AGGREGATE_COLUMNS and more
Fetch = Callable[[str, list, str], tuple[list[str], list[tuple]]]
"""Runs one aggregate query (DuckDB SQL, ``?`` parameters) for the KPIs named by the third
argument and returns its column names and rows, or raises a ``KPIExplorerError`` naming them:
:mod:`kpi_logic.engines` has one per engine."""


@dataclass(frozen=True)
class _Plan:
    """One KPI compiled against the table's columns."""

    kpi: KPI
    measure: expressions.Compiled
    filter: expressions.Compiled | None
    time: str | None
    by: str | None
    simple: tuple[str, str] | None  # (function, column) of a one-aggregate measure

    @property
    def group(self) -> tuple:
        """KPIs with the same group key share one query."""
        return (self.time, self.kpi.grain if self.time else None, self.by, self.kpi.filter)


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """Column name -> DuckDB type of ``table``."""
    rows = con.execute(f"DESCRIBE {quote_ident(table)}").fetchall()
    return {row[0]: row[1] for row in rows}


def compile_kpi(kpi: KPI, columns: Mapping[str, str]) -> _Plan:
    """Resolve ``kpi``'s columns and compile its measure and filter; errors name the KPI."""
    names = list(columns)
    key = "measure"
    try:
        measure = expressions.compile_measure(kpi.measure, names)
        key = "filter"
        where = expressions.compile_filter(kpi.filter, names) if kpi.filter else None
        key = "time"
        time = expressions.resolve_column(kpi.time, names) if kpi.time else None
        key = "by"
        by = expressions.resolve_column(kpi.by, names) if kpi.by else None
        simple = expressions.aggregate_of(kpi.measure, names)
    except ExpressionError as err:
        raise ExpressionError(f'KPI "{kpi.name}": {key}: {err}') from err
    if time is not None and logical_type(columns[time]) not in ("date", "datetime"):
        raise KPIDefinitionError(
            f'KPI "{kpi.name}": time column "{time}" holds {columns[time]}, not dates'
        )
    return _Plan(kpi, measure, where, time, by, simple)


def is_additive(measure: str, columns: Sequence[str]) -> bool:
    """True for a plain sum or count: the value of a whole is the sum of its parts' values
    (periods of days, a total of categories), so targets of parts add up too.

    >>> is_additive('sum("Sales")', ["Sales"]), is_additive('avg("Sales")', ["Sales"])
    (True, False)
    """
    return _additive(expressions.aggregate_of(measure, columns))


def _additive(simple: tuple[str, str] | None) -> bool:
    return bool(simple and simple[0] in ADDITIVE_FUNCTIONS)


def check_kpi(kpi: KPI, columns: Mapping[str, str]) -> KPI:
    """``kpi`` validated against a table's columns (column -> DuckDB type) by the same checks
    a computation makes, with its time and category columns spelled as the table spells them.
    Raises a ``KPIExplorerError`` naming the KPI and the key."""
    plan = compile_kpi(validate(kpi), columns)
    return dataclasses.replace(kpi, time=plan.time, by=plan.by)


def aggregate_records(
    con: duckdb.DuckDBPyConnection,
    table: str,
    kpis: Sequence[KPI],
    *,
    start: date | None = None,
    end: date | None = None,
    categories: Categories | None = None,
    whole: bool = False,
    totals: bool = True,
) -> list[Record]:
    """Actual per KPI x category x period as plain records with the keys of
    ``AGGREGATE_COLUMNS``: ``kpi, category, period, actual, as_of, additive``.

    ``category`` is None on the all-categories row of a KPI with ``by`` (recomputed from the
    rows, never summed or averaged from categories) and on every row of a KPI without ``by``;
    ``period`` is the first day of the period (None without a time column); ``as_of`` is the
    last date with data (None when there is none); ``actual`` is a float, NaN where the
    measure is not a finite number (a ratio over a zero denominator) or has no rows;
    ``additive`` is True for a plain sum or count (a period's value is the sum of its days',
    which ``forecast.pace`` uses). Cells without rows are missing, except for count measures
    where a cell of a seen category and a seen period is 0.

    Rows come per KPI in the order of ``kpis``: its all-categories rows first, then by
    category and period (None first).

    ``start``/``end`` (inclusive) limit the dates of KPIs with a time column. ``categories``
    is a list of values of each KPI's own ``by`` column, or a mapping column -> values applied
    to every KPI; an empty list selects everything. ``whole`` (with ``start``) makes the days
    from ``start`` to ``end`` one period, whose ``period`` is ``start`` (a time window).
    ``totals=False`` leaves out the all-categories rows of KPIs with ``by``.
    """
    fetch = _duckdb_fetch(con)
    columns = table_columns(con, table)
    return records_over(
        fetch,
        columns,
        table,
        kpis,
        start=start,
        end=end,
        categories=categories,
        whole=whole,
        totals=totals,
    )


def records_over(
    fetch: Fetch,
    columns: Mapping[str, str],
    table: str,
    kpis: Sequence[KPI],
    *,
    start: date | None = None,
    end: date | None = None,
    categories: Categories | None = None,
    whole: bool = False,
    totals: bool = True,
) -> list[Record]:
    """``aggregate_records`` over any engine: ``fetch`` runs each query of
    ``aggregate_sql(table, kpis, columns, ...)`` where the data lives."""
    window = start if whole else None
    records = [
        record
        for group in _groups(kpis, columns)
        for record in _run_group(
            fetch, table, group, columns, _Scope(start, end, categories, window, totals)
        )
    ]
    order = {kpi.name: i for i, kpi in enumerate(kpis)}
    records.sort(
        key=lambda r: (
            order[cast(str, r["kpi"])],
            r["category"] is not None,
            r["category"] or "",
            r["period"] is not None,
            r["period"] or date.min,
        )
    )
    return records


def aggregate_sql(
    table: str,
    kpis: Sequence[KPI],
    columns: Mapping[str, str],
    *,
    start: date | None = None,
    end: date | None = None,
    categories: Categories | None = None,
    whole: bool = False,
    totals: bool = True,
) -> list[tuple[str, list[object]]]:
    """The SQL and bound parameters of each query ``aggregate_records`` runs over ``table``
    (column name -> DuckDB type in ``columns``), one per group of KPIs."""
    scope = _Scope(start, end, categories, start if whole else None, totals)
    return [_group_sql(table, group, columns, scope) for group in _groups(kpis, columns)]


def _groups(kpis: Sequence[KPI], columns: Mapping[str, str]) -> list[list[_Plan]]:
    """The KPIs compiled and grouped by what their query shares (time, grain, by, filter)."""
    groups: dict[tuple, list[_Plan]] = {}
    for kpi in kpis:
        plan = compile_kpi(kpi, columns)
        groups.setdefault(plan.group, []).append(plan)
    return list(groups.values())


def _duckdb_fetch(con: duckdb.DuckDBPyConnection) -> Fetch:
    """``Fetch`` on a DuckDB connection: the query as written, its values bound."""

    def fetch(sql: str, params: list, names: str) -> tuple[list[str], list[tuple]]:
        try:
            cursor = con.execute(sql, params)
        except duckdb.Error as err:
            raise _computing_error(err, names) from err
        return [d[0] for d in cursor.description], cursor.fetchall()

    return fetch


def kpi_names(plans: Sequence[_Plan]) -> str:
    """The KPIs of one query as an error message names them."""
    return ", ".join(f'"{p.kpi.name}"' for p in plans)


@dataclass(frozen=True)
class _Scope:
    """What one computation covers: dates, categories, a window's first day, and whether the
    all-categories rows are wanted."""

    start: date | None
    end: date | None
    categories: Categories | None
    window: date | None
    totals: bool


def _totals_by_grouping_set(plans: list[_Plan], scope: _Scope) -> bool:
    """True when the query itself computes the all-categories rows: they are wanted and some
    measure's total can't be found from its categories' values (a ratio, a distinct count)."""
    wanted = scope.totals and plans[0].by is not None
    return wanted and not all(_combiner(p) for p in plans)


def _combiner(plan: _Plan) -> Callable[[list[float]], float] | None:
    """How the all-categories value of ``plan``'s measure follows from its categories'
    values; None when it does not."""
    return TOTAL_OF_CATEGORIES.get(plan.simple[0]) if plan.simple else None


def _run_group(
    fetch: Fetch, table: str, plans: list[_Plan], columns: Mapping[str, str], scope: _Scope
) -> list[Record]:
    """One query for KPIs sharing time, grain, by and filter; one record per KPI and row."""
    sql, params = _group_sql(table, plans, columns, scope)
    from_categories = scope.totals and not _totals_by_grouping_set(plans, scope)
    names, rows = fetch(sql, params, kpi_names(plans))
    wide = [dict(zip(names, row, strict=True)) for row in rows]
    first = plans[0]
    days = [row[_DAY] for row in wide if row[_DAY] is not None] if first.time else []
    as_of = max(days, default=None)
    records = []
    for i, plan in enumerate(plans):
        long = [
            {
                "kpi": plan.kpi.name,
                "category": row[_CATEGORY] if first.by and row["is_total"] == 0 else None,
                "period": row[_PERIOD] if first.time else None,
                "actual": _finite(row[f"m{i}"]),
                "as_of": as_of,
                "additive": _additive(plan.simple),
            }
            for row in wide
        ]
        if plan.simple and plan.simple[0] in COUNT_FUNCTIONS and first.by and first.time:
            long += _zero_fill(long)
        combine = _combiner(plan)
        if first.by and from_categories and combine is not None:
            long += _totals_of_categories(long, combine)
        records += long
    return records


def _totals_of_categories(
    long: list[Record], combine: Callable[[list[float]], float]
) -> list[Record]:
    """One KPI's all-categories rows, one per period, from its category rows: ``combine`` of
    the values that are not missing (missing when all are)."""
    values: dict[object, list[float]] = {}
    for record in long:
        found = values.setdefault(record["period"], [])
        if not math.isnan(record["actual"]):
            found.append(record["actual"])
    first = long[0] if long else {}
    return [
        {
            "kpi": first["kpi"],
            "category": None,
            "period": period,
            "actual": float(combine(found)) if found else math.nan,
            "as_of": first["as_of"],
            "additive": first["additive"],
        }
        for period, found in values.items()
    ]


def _computing_error(err: duckdb.Error, names: str) -> KPIExplorerError:
    """What went wrong, by kind: the data could not be read, the machine ran short (both not
    the KPIs' fault), or the KPIs ask something of their columns they can't (sum of text)."""
    reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
    if isinstance(err, duckdb.ConversionException | duckdb.InvalidInputException):
        return DataReadError(f"The data could not be read for KPI {names}: {reason}")
    if isinstance(
        err, duckdb.OutOfMemoryException | duckdb.IOException | duckdb.InterruptException
    ):
        return ComputeError(
            f"KPI {names} could not be computed now ({reason}); try again, or ask whoever "
            "runs the app for more memory or disk."
        )
    return KPIDefinitionError(f"KPI {names} could not be computed: {reason}")


def _finite(value: float | None) -> float:
    """A measure value as a float: NaN when missing or not finite."""
    return float(value) if value is not None and math.isfinite(value) else math.nan


def _zero_fill(long: list[Record]) -> list[Record]:
    """Count KPIs: the rows to add so that a seen category in a seen period without rows
    counts 0 (sorted by category and period)."""
    cells = [r for r in long if r["category"] is not None]
    if not cells:
        return []
    seen = {(r["category"], r["period"]) for r in cells}
    categories = dict.fromkeys(r["category"] for r in cells)
    periods = dict.fromkeys(r["period"] for r in long if r["period"] is not None)
    missing = sorted((c, p) for c in categories for p in periods if (c, p) not in seen)
    first = long[0]
    return [
        {
            "kpi": first["kpi"],
            "category": category,
            "period": period,
            "actual": 0.0,
            "as_of": first["as_of"],
            "additive": first["additive"],
        }
        for category, period in missing
    ]


def _group_sql(
    table: str, plans: list[_Plan], columns: Mapping[str, str], scope: _Scope
) -> tuple[str, list]:
    """``SELECT ... GROUP BY [GROUPING SETS]`` over a subquery of helper columns; with a
    ``window`` (a first day) every row's period is that day instead of its own period's.

    A KPI filter drops rows (``WHERE``), so every aggregate in the measure, ``count(*)``
    included, sees only the kept rows; a category or period whose rows are all filtered out
    has no result row (missing, not 0).
    """
    first, window = plans[0], scope.window
    used = list(dict.fromkeys(c for p in plans for c in p.measure.columns))
    helpers: list[str] = []
    params: list[object] = []
    if first.time:
        # the grain is written, not bound: engines truncate by a fixed word; a window's start
        # is a value
        grain = _GRAIN_SQL[first.kpi.grain]
        truncated = (
            "CAST(? AS DATE)" if window else f"date_trunc({grain}, {quote_ident(first.time)})"
        )
        helpers += [
            f"CAST({truncated} AS DATE) AS {_PERIOD}",
            f"CAST({quote_ident(first.time)} AS DATE) AS {_DAY}",
        ]
        if window:
            params.append(window)
    if first.by:
        helpers.append(f"{_category_sql(first.by)} AS {_CATEGORY}")
        params.append(BLANK_CATEGORY)
    values = [quote_ident(c) for c in used]
    where, where_params = _where(first, columns, scope.start, scope.end, scope.categories)
    if first.filter is not None:  # the KPIs of a group share their filter
        keep = f"({first.filter.sql})"
        where = f"{where} AND {keep}" if where else f" WHERE {keep}"
        where_params = [*where_params, *first.filter.params]
    selected = ", ".join(helpers + values) or "1"  # count(*) alone needs no column
    source = f"SELECT {selected} FROM {quote_ident(table)}{where}"
    params += where_params
    outer = [f"CAST(({p.measure.sql}) AS DOUBLE) AS m{i}" for i, p in enumerate(plans)]
    measure_params = [v for p in plans for v in p.measure.params]
    if first.time:
        outer.insert(0, f"{_PERIOD}, max({_DAY}) AS {_DAY}")
    if first.by:
        period = [_PERIOD] if first.time else []
        if _totals_by_grouping_set(plans, scope):
            outer.insert(0, f"{_CATEGORY}, GROUPING({_CATEGORY}) AS is_total")
            sets = f"({', '.join([_CATEGORY, *period])}), ({', '.join(period)})"
            group_by = f" GROUP BY GROUPING SETS ({sets})"
        else:
            outer.insert(0, f"{_CATEGORY}, 0 AS is_total")
            group_by = f" GROUP BY {', '.join([_CATEGORY, *period])}"
    else:
        group_by = f" GROUP BY {_PERIOD}" if first.time else ""
    sql = f"SELECT {', '.join(outer)} FROM ({source}) AS {_ROWS}{group_by}"
    return sql, [*measure_params, *params]


def _category_sql(column: str) -> str:
    """Category text of ``column``; empty cells become ``BLANK_CATEGORY`` (one ``?``)."""
    return f"coalesce(CAST({quote_ident(column)} AS VARCHAR), ?)"


def _where(
    plan: _Plan,
    columns: Mapping[str, str],
    start: date | None,
    end: date | None,
    categories: Categories | None,
) -> tuple[str, list]:
    """Date range and category conditions, as bound parameters."""
    conditions: list[str] = []
    params: list = []
    if plan.time:
        for bound, op in ((start, ">="), (end, "<=")):
            if bound is not None:
                conditions.append(f"CAST({quote_ident(plan.time)} AS DATE) {op} ?")
                params.append(bound)
    picked: list[tuple[str, Sequence[str] | None]]
    if isinstance(categories, Mapping):
        picked = [
            (expressions.resolve_column(column, list(columns)), values)
            for column, values in categories.items()
        ]
    else:
        picked = [(plan.by, categories)] if plan.by else []
    for column, values in picked:
        if values:
            marks = ", ".join("?" * len(values))
            conditions.append(f"{_category_sql(column)} IN ({marks})")
            params += [BLANK_CATEGORY, *map(str, values)]
    return (" WHERE " + " AND ".join(conditions) if conditions else ""), params
