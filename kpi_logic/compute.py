"""Actuals per KPI x category x period in DuckDB (``aggregate``), then targets and status in
pandas (``score``).

``aggregate`` runs one query per group of KPIs sharing (time column, grain, category column,
filter); ``score`` is pure pandas so a target slider re-scores the small aggregate only.

Formulas (``score``):

- higher is better: ``attainment = actual / target``
- lower is better: ``attainment = target / actual`` (``inf`` when actual <= 0: nothing left to
  cut), so for both directions ``attainment >= bands.good`` means on target.
- status: "no data" when actual is missing, "no target" when the target is missing or 0, else
  "on target" (attainment >= good), "at risk" (>= warning) or "off target".
- previous: actual of the calendar period before, same KPI and category;
  ``change = actual - previous``, ``change_pct = change / |previous|``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from kpi_logic import expressions
from kpi_logic.errors import ExpressionError, KPIDefinitionError
from kpi_logic.model import KPI, period_start
from kpi_logic.sql import quote_ident

STATUSES = ("on target", "at risk", "off target", "no target", "no data")
AGGREGATE_COLUMNS = ["kpi", "category", "period", "actual", "as_of", "additive"]
BLANK_CATEGORY = "(blank)"  # category of rows whose category cell is empty
COUNT_FUNCTIONS = ("count", "count_distinct")  # 0, not missing, for a cell without rows
ADDITIVE_FUNCTIONS = ("sum", "count")  # a period's value is the sum of its days' values

_H = f"__kpi_{uuid.uuid4().hex[:6]}"  # prefix of helper columns: can't meet a user's
_PERIOD, _CATEGORY, _DAY = (f"{_H}_{n}" for n in ("period", "category", "day"))
_DATE_TYPES = ("DATE", "TIMESTAMP")

Categories = Sequence[str] | Mapping[str, Sequence[str]]


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
    if time is not None and not columns[time].startswith(_DATE_TYPES):
        raise KPIDefinitionError(
            f'KPI "{kpi.name}": time column "{time}" holds {columns[time]}, not dates'
        )
    return _Plan(kpi, measure, where, time, by, simple)


def aggregate(
    con: duckdb.DuckDBPyConnection,
    table: str,
    kpis: Sequence[KPI],
    *,
    start: date | None = None,
    end: date | None = None,
    categories: Categories | None = None,
) -> pd.DataFrame:
    """Actual per KPI x category x period: ``kpi, category, period, actual, as_of, additive``.

    ``category`` is None on the all-categories row of a KPI with ``by`` (recomputed from the
    rows, never summed or averaged from categories) and on every row of a KPI without ``by``;
    ``period`` is the first day of the period (None without a time column); ``as_of`` is the
    last date with data; ``actual`` is NaN where the measure is not a finite number (a
    ratio over a zero denominator); ``additive`` is True for a plain sum or count (a period's value
    is the sum of its days', which ``forecast.pace`` uses). Cells without rows are missing,
    except for count measures where a cell of a seen category and a seen period is 0.

    ``start``/``end`` (inclusive) limit the dates of KPIs with a time column. ``categories``
    is a list of values of each KPI's own ``by`` column, or a mapping column -> values applied
    to every KPI; an empty list selects everything.
    """
    columns = table_columns(con, table)
    plans = [compile_kpi(kpi, columns) for kpi in kpis]
    groups: dict[tuple, list[_Plan]] = {}
    for plan in plans:
        groups.setdefault(plan.group, []).append(plan)
    frames = [
        _run_group(con, table, group, columns, start, end, categories) for group in groups.values()
    ]
    if not frames:
        return pd.DataFrame(columns=AGGREGATE_COLUMNS)
    result = pd.concat(frames, ignore_index=True)
    order = {kpi.name: i for i, kpi in enumerate(kpis)}
    result["_order"] = result["kpi"].map(order)
    result["_cell"] = result["category"].notna()
    result = result.sort_values(["_order", "_cell", "category", "period"], na_position="first")
    result = result[AGGREGATE_COLUMNS].reset_index(drop=True)
    for column in ("category", "period", "as_of"):
        result[column] = result[column].astype(object).where(result[column].notna(), None)
    return result


def _run_group(
    con: duckdb.DuckDBPyConnection,
    table: str,
    plans: list[_Plan],
    columns: Mapping[str, str],
    start: date | None,
    end: date | None,
    categories: Categories | None,
) -> pd.DataFrame:
    """One query for KPIs sharing time, grain, by and filter; long format out."""
    sql, params = _group_sql(table, plans, columns, start, end, categories)
    try:
        cursor = con.execute(sql, params)
    except duckdb.Error as err:  # e.g. sum() of a text column
        names = ", ".join(f'"{p.kpi.name}"' for p in plans)
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise KPIDefinitionError(f"KPI {names} could not be computed: {reason}") from err
    names = [d[0] for d in cursor.description]
    wide = pd.DataFrame(cursor.fetchall(), columns=names, dtype=object)
    first = plans[0]
    category = wide[_CATEGORY] if first.by else pd.Series(None, index=wide.index, dtype=object)
    period = wide[_PERIOD] if first.time else pd.Series(None, index=wide.index, dtype=object)
    as_of = wide[_DAY].dropna().max() if first.time and len(wide) else None
    frames = []
    for i, plan in enumerate(plans):
        long = pd.DataFrame(
            {
                "kpi": plan.kpi.name,
                "category": category.where(wide["is_total"] == 0, None) if first.by else category,
                "period": period,
                "actual": wide[f"m{i}"].astype("float64").replace([np.inf, -np.inf], np.nan),
                "as_of": as_of,
                "additive": bool(plan.simple and plan.simple[0] in ADDITIVE_FUNCTIONS),
            }
        )
        if plan.simple and plan.simple[0] in COUNT_FUNCTIONS and first.by and first.time:
            long = _zero_fill(long)
        frames.append(long)
    return pd.concat(frames, ignore_index=True)


def _zero_fill(long: pd.DataFrame) -> pd.DataFrame:
    """Count KPIs: a seen category in a seen period without rows counts 0."""
    cells = long[long["category"].notna()]
    grid = pd.MultiIndex.from_product(
        [cells["category"].unique(), long["period"].dropna().unique()], names=["category", "period"]
    )
    missing = grid.difference(pd.MultiIndex.from_frame(cells[["category", "period"]]))
    if missing.empty:
        return long
    extra = missing.to_frame(index=False)
    extra.insert(0, "kpi", long["kpi"].iloc[0])
    extra["actual"] = 0.0
    extra["as_of"] = long["as_of"].iloc[0]
    extra["additive"] = long["additive"].iloc[0]
    return pd.concat([long, extra[long.columns]], ignore_index=True)


def _group_sql(
    table: str,
    plans: list[_Plan],
    columns: Mapping[str, str],
    start: date | None,
    end: date | None,
    categories: Categories | None,
) -> tuple[str, list]:
    """``SELECT ... GROUP BY GROUPING SETS`` over a subquery of helper columns.

    A KPI filter drops rows (``WHERE``), so every aggregate in the measure, ``count(*)``
    included, sees only the kept rows; a category or period whose rows are all filtered out
    has no result row (missing, not 0).
    """
    first = plans[0]
    used = list(dict.fromkeys(c for p in plans for c in p.measure.columns))
    helpers, params = [], []
    if first.time:
        helpers += [
            f"CAST(date_trunc(?, {quote_ident(first.time)}) AS DATE) AS {_PERIOD}",
            f"CAST({quote_ident(first.time)} AS DATE) AS {_DAY}",
        ]
        params.append(first.kpi.grain)
    if first.by:
        helpers.append(f"{_category_sql(first.by)} AS {_CATEGORY}")
        params.append(BLANK_CATEGORY)
    values = [quote_ident(c) for c in used]
    where, where_params = _where(first, columns, start, end, categories)
    if first.filter is not None:  # the KPIs of a group share their filter
        keep = f"({first.filter.sql})"
        where = f"{where} AND {keep}" if where else f" WHERE {keep}"
        where_params = [*where_params, *first.filter.params]
    source = f"SELECT {', '.join(helpers + values)} FROM {quote_ident(table)}{where}"
    params += where_params
    outer = [f"CAST(({p.measure.sql}) AS DOUBLE) AS m{i}" for i, p in enumerate(plans)]
    measure_params = [v for p in plans for v in p.measure.params]
    if first.time:
        outer.insert(0, f"{_PERIOD}, max({_DAY}) AS {_DAY}")
    if first.by:
        outer.insert(0, f"{_CATEGORY}, GROUPING({_CATEGORY}) AS is_total")
        period = [_PERIOD] if first.time else []
        sets = f"({', '.join([_CATEGORY, *period])}), ({', '.join(period)})"
        group_by = f" GROUP BY GROUPING SETS ({sets})"
    else:
        group_by = f" GROUP BY {_PERIOD}" if first.time else ""
    sql = f"SELECT {', '.join(outer)} FROM ({source}){group_by}"
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


def score(agg: pd.DataFrame, kpis: Sequence[KPI]) -> pd.DataFrame:
    """Add ``target, attainment, status, previous, change, change_pct`` (see module doc).

    Pure pandas over the aggregate: cheap enough to run on every target slider move.
    """
    by_name = {kpi.name: kpi for kpi in kpis}
    out = agg.copy()
    rows = zip(out["kpi"], out["category"], out["period"], strict=True)
    targets = [by_name[k].target_for(_none(c), _none(p)) for k, c, p in rows]
    out["target"] = np.array([np.nan if t is None else t for t in targets], dtype="float64")
    lower = out["kpi"].map(lambda k: by_name[k].direction == "lower").to_numpy(dtype=bool)
    actual, target = out["actual"].to_numpy(dtype="float64"), out["target"].to_numpy()
    out["attainment"] = attainment = attainment_of(actual, target, lower)
    no_data, no_target = np.isnan(actual), np.isnan(target) | (target == 0)
    good = out["kpi"].map(lambda k: by_name[k].bands.good).to_numpy(dtype="float64")
    warning = out["kpi"].map(lambda k: by_name[k].bands.warning).to_numpy(dtype="float64")
    out["status"] = np.select(
        [no_data, no_target, attainment >= good, attainment >= warning],
        ["no data", "no target", "on target", "at risk"],
        "off target",
    )
    out["previous"] = _previous(out, by_name)
    out["change"] = out["actual"] - out["previous"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["change_pct"] = (out["change"] / out["previous"].abs()).replace(
            [np.inf, -np.inf], np.nan
        )
    return out


def attainment_of(actual: np.ndarray, target: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """``actual / target``, or ``target / actual`` where lower is better (inf when actual <= 0);
    NaN when actual or target is missing or the target is 0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.where(lower, np.where(actual > 0, target / actual, np.inf), actual / target)
    result[np.isnan(actual) | np.isnan(target) | (target == 0)] = np.nan
    return result


def _none(value: object) -> object:
    """pandas' missing markers (NaN, NaT, NA) as None."""
    return None if value is None or pd.isna(value) else value


def _previous(out: pd.DataFrame, by_name: Mapping[str, KPI]) -> pd.Series:
    """Actual of the calendar period before, same KPI and category (NaN when none)."""
    previous = {
        (k, p): period_start(p - timedelta(days=1), by_name[k].grain)
        for k, p in set(zip(out["kpi"], out["period"], strict=True))
        if isinstance(p, date)
    }
    actuals = {
        (k, _none(c), p): a
        for k, c, p, a in zip(
            out["kpi"], out["category"], out["period"], out["actual"], strict=True
        )
    }
    values = [
        actuals.get((k, _none(c), previous[k, p]), np.nan) if (k, p) in previous else np.nan
        for k, c, p in zip(out["kpi"], out["category"], out["period"], strict=True)
    ]
    return pd.Series(values, index=out.index, dtype="float64")
