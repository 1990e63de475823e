"""Targets, attainment and status of aggregated cells: the only home of the status words.

Formulas (``score_records``):

- higher is better: ``attainment = actual / target``
- lower is better: ``attainment = target / actual`` (``inf`` when actual <= 0: nothing left to
  cut), so for both directions ``attainment >= bands.good`` means on target.
- status: "no data" when actual is missing, "no target" when the target is missing or 0, else
  "on target" (attainment >= good), "at risk" (>= warning) or "off target".
- previous: actual of the calendar period before, same KPI and category;
  ``change = actual - previous``, ``change_pct = change / |previous|``.

Pure Python over the aggregate, cheap enough to run on every target slider move.

>>> status_of(95.0, 100.0, attainment(95.0, 100.0, lower=False), Bands())
'at risk'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, cast

from kpi_logic.model import KPI, Bands, period_start

if TYPE_CHECKING:
    import pandas as pd
    from pandas.api.typing import NaTType, NAType

ON_TARGET, AT_RISK, OFF_TARGET = "on target", "at risk", "off target"
NO_TARGET, NO_DATA = "no target", "no data"
STATUSES = (ON_TARGET, AT_RISK, OFF_TARGET, NO_TARGET, NO_DATA)  # of a cell
ON_TRACK, BEHIND = "on track", "behind"
PACE_STATUSES = (ON_TRACK, BEHIND)  # of the pace to a due date (kpi_logic.forecast)
NOTE_STATUSES = (ON_TRACK, AT_RISK, BEHIND, "done")  # a check-in note's own label
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


def score_records(
    records: Sequence[Mapping[str, object]], kpis: Sequence[KPI]
) -> list[dict[str, object]]:
    """Each record (``kpi, category, period, actual``; other keys are kept) with ``target,
    attainment, status, previous, change, change_pct`` added (see module doc); missing numbers
    are NaN (an ``actual`` of None counts as missing too). Pure Python: cheap enough to run on
    every target slider move.
    """
    by_name = {kpi.name: kpi for kpi in kpis}
    actuals = {(r["kpi"], r["category"], r["period"]): _number(r["actual"]) for r in records}
    scored = []
    for record in records:
        kpi = by_name[cast(str, record["kpi"])]
        # category is text (the column cast to VARCHAR) and period a date; both None on totals
        category = cast("str | None", record["category"])
        period = cast("date | None", record["period"])
        actual = _number(record["actual"])
        found = kpi.target_for(category, period)
        target = math.nan if found is None else float(found)
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
                "status": status_of(actual, target, rate, kpi.bands),
                "previous": previous,
                "change": change,
                "change_pct": math.nan if math.isinf(change_pct) else change_pct,
            }
        )
    return scored


def attainment(actual: float, target: float, lower: bool) -> float:
    """``actual / target``, or ``target / actual`` where lower is better (inf when actual <= 0);
    NaN when actual or target is missing (NaN) or the target is 0.
    """
    if math.isnan(actual) or math.isnan(target) or target == 0:
        return math.nan
    if lower:
        return target / actual if actual > 0 else math.inf
    return actual / target


def status_of(actual: float, target: float, rate: float, bands: Bands) -> str:
    """One of ``STATUSES`` for a cell with attainment ``rate`` (see module doc)."""
    if math.isnan(actual):
        return NO_DATA
    if math.isnan(target) or target == 0:
        return NO_TARGET
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


def score(agg: pd.DataFrame, kpis: Sequence[KPI]) -> pd.DataFrame:
    """``agg`` (from ``aggregate``, perhaps filtered) with the columns ``score_records`` adds,
    on the same index: ``target, attainment, previous, change, change_pct`` (float64) and
    ``status``.
    """
    import pandas as pd  # here, not at module level: the command line path never loads pandas

    # pandas' missing markers (NaN, NaT, NA) as None
    def none(value: float | str | date | NAType | NaTType | None) -> float | str | date | None:
        return None if value is None or pd.isna(value) else value

    out = agg.copy()
    records = [
        {"kpi": k, "category": none(c), "period": none(p), "actual": none(a)}
        for k, c, p, a in zip(
            out["kpi"], out["category"], out["period"], out["actual"], strict=True
        )
    ]
    scored = score_records(records, kpis)
    for column in ("target", "attainment", "status", "previous", "change", "change_pct"):
        dtype = "str" if column == "status" else "float64"
        out[column] = pd.Series([r[column] for r in scored], index=out.index, dtype=dtype)
    return out
