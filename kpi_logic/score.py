"""Targets, attainment and status of aggregated cells: the only home of the status words.

Formulas (``score_records``):

- higher is better: ``attainment = actual / target``
- lower is better: ``attainment = target / actual`` (``inf`` when actual <= 0: nothing left to
  cut), so for both directions ``attainment >= bands.good`` means on target.
- status: "no data" when actual is missing, "no target" when the target is missing, else
  "on target" (attainment >= good), "at risk" (>= warning) or "off target".
- a target of 0 is a target (zero defects): lower is better is on target at or below it,
  higher is better at or above it, else off target; its attainment is missing (no division
  by zero): the card shows the gap ``actual - target`` instead.
- targets come from ``KPI.target_for``; the all-categories row of an additive KPI with ``by``
  and no total target of its own is judged on the sum of its categories' targets in that
  period (when every category there has one). ``allocated`` is that sum on every
  all-categories row of an additive KPI with ``by``, so a total target the categories' do not
  add up to shows its unallocated part.
- previous: actual of the calendar period before, same KPI and category;
  ``change = actual - previous``, ``change_pct = change / |previous|``.

Pure Python over the aggregate's records, cheap enough to run on every target slider move.

>>> status_of(95.0, 100.0, attainment(95.0, 100.0, lower=False), Bands())
'at risk'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import cast

from kpi_logic.compute import AGGREGATE_COLUMNS, Record
from kpi_logic.model import KPI, Bands, period_start

ON_TARGET, AT_RISK, OFF_TARGET = "on target", "at risk", "off target"
NO_TARGET, NO_DATA = "no target", "no data"
STATUSES = (ON_TARGET, AT_RISK, OFF_TARGET, NO_TARGET, NO_DATA)  # of a cell
ON_TRACK, BEHIND = "on track", "behind"
PACE_STATUSES = (ON_TRACK, BEHIND)  # of the pace to a due date (kpi_logic.forecast)
NOTE_STATUSES = (ON_TRACK, AT_RISK, BEHIND, "done")  # a check-in note's own label
SCORED_COLUMNS = [
    *AGGREGATE_COLUMNS,
    *("target", "attainment", "status", "previous", "change", "change_pct", "allocated"),
]
# A status is never told by colour alone: each has its own symbol beside its word (cards,
# tables, the digest) and its own mark shape in charts (``charts.STATUS_SHAPES``).
STATUS_SYMBOLS = {
    ON_TARGET: "\u2714",  # ✔ heavy check mark
    AT_RISK: "\u25b2",  # ▲ triangle
    OFF_TARGET: "\u2716",  # ✖ heavy cross
    NO_TARGET: "\u25cb",  # ○ circle
    NO_DATA: "\u2013",  # – dash
    ON_TRACK: "\u2714",
    BEHIND: "\u25bc",  # ▼ triangle down
}


def score_records(records: Sequence[Mapping[str, object]], kpis: Sequence[KPI]) -> list[Record]:
    """Each record (``kpi, category, period, actual``, ``additive`` (True when left out); other
    keys are kept) with ``target, attainment, status, previous, change, change_pct,
    allocated`` added (see module doc); missing numbers are NaN (an ``actual`` of None counts
    as missing too). Pure Python: cheap enough to run on every target slider move.
    """
    by_name = {kpi.name: kpi for kpi in kpis}
    actuals = {(r["kpi"], r["category"], r["period"]): _number(r["actual"]) for r in records}
    allocated = allocated_targets(records, by_name)
    scored = []
    for record in records:
        kpi = by_name[cast(str, record["kpi"])]
        # category is text (the column cast to VARCHAR) and period a date; both None on totals
        category = cast("str | None", record["category"])
        period = cast("date | None", record["period"])
        actual = _number(record["actual"])
        found = kpi.target_for(category, period, additive=bool(record.get("additive", True)))
        parts = allocated.get((kpi.name, period), math.nan) if category is None else math.nan
        target = parts if found is None else float(found)
        rate = attainment(actual, target, kpi.direction == "lower")
        previous = math.nan
        if isinstance(period, date):  # the calendar period before, same KPI and category
            before = period_start(period - timedelta(days=1), kpi.grain)
            previous = actuals.get((kpi.name, category, before), math.nan)
        change = actual - previous
        change_pct = change / abs(previous) if previous != 0 else math.nan
        scored.append(
            {
                **record,
                "target": target,
                "attainment": rate,
                "status": status_of(actual, target, rate, kpi.bands, kpi.direction == "lower"),
                "previous": previous,
                "change": change,
                "change_pct": math.nan if math.isinf(change_pct) else change_pct,
                "allocated": parts,
            }
        )
    return scored


def allocated_targets(
    records: Sequence[Mapping[str, object]],
    kpis: Mapping[str, KPI],
    target_of: Callable[[KPI, Mapping[str, object]], float | None] | None = None,
) -> dict[tuple[str, date | None], float]:
    """(KPI, period) -> the sum of the categories' targets, for additive KPIs with ``by`` whose
    every category in that period has a target; ``target_of(kpi, record)`` is a category
    row's target (default: its period's, ``KPI.target_for``)."""
    sums: dict[tuple[str, date | None], float] = {}
    for record in records:
        kpi = kpis[cast(str, record["kpi"])]
        category = cast("str | None", record["category"])
        if kpi.by is None or category is None or not record.get("additive", True):
            continue
        key = (kpi.name, cast("date | None", record["period"]))
        if target_of is None:
            found = kpi.target_for(category, key[1], additive=True)
        else:
            found = target_of(kpi, record)
        sums[key] = sums.get(key, 0.0) + (math.nan if found is None else float(found))
    return {key: total for key, total in sums.items() if not math.isnan(total)}


def attainment(actual: float, target: float, lower: bool) -> float:
    """``actual / target``, or ``target / actual`` where lower is better (inf when actual <= 0);
    NaN when actual or target is missing (NaN) or the target is 0 (judged by the gap instead).
    """
    if math.isnan(actual) or math.isnan(target) or target == 0:
        return math.nan
    if lower:
        return target / actual if actual > 0 else math.inf
    return actual / target


def status_of(actual: float, target: float, rate: float, bands: Bands, lower: bool = False) -> str:
    """One of ``STATUSES`` for a cell with attainment ``rate`` (see module doc).

    >>> zero_defects = [status_of(n, 0.0, math.nan, Bands(), lower=True) for n in (0.0, 2.0)]
    >>> zero_defects
    ['on target', 'off target']
    """
    if math.isnan(actual):
        return NO_DATA
    if math.isnan(target):
        return NO_TARGET
    if target == 0:
        return ON_TARGET if (actual <= 0 if lower else actual >= 0) else OFF_TARGET
    return band_status(rate, bands)


def band_status(rate: float, bands: Bands) -> str:
    """On target, at risk or off target for an attainment ``rate``.

    >>> band_status(0.95, Bands(good=1.0, warning=0.9))
    'at risk'
    """
    if rate >= bands.good:
        return ON_TARGET
    return AT_RISK if rate >= bands.warning else OFF_TARGET


def _number(value: object) -> float:
    """A record's number as a float, NaN for None."""
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


def is_missing(value: object) -> bool:
    """True for a record's missing number: None or NaN.

    >>> is_missing(float("nan")), is_missing(None), is_missing(0.0)
    (True, True, False)
    """
    return value is None or (isinstance(value, float) and math.isnan(value))
