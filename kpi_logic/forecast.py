"""Pacing a KPI towards its due date.

Target window: for a KPI whose due date falls in period P (of its grain), the window runs from
P's first day to the due date, both included, and the actual to date is P's all-categories
actual. With ``as_of`` the last date with data::

    elapsed   = days from P's first day to min(as_of, due), both included / days in the window
    expected  = target x elapsed        projected = actual / elapsed      (additive measures)
    expected  = target                  projected = actual                (averages, ratios)

A plain sum or count grows with the days of the window, so it is paced linearly; an average
or a ratio is a level, judged as it stands. The KPI is "on track" when the attainment of the
projected value (``score.attainment``, so lower-is-better works too) reaches
``bands.good``, else "behind".

Example: a monthly sum with a target of 3,100 due 2024-01-31, 1,200 by 2024-01-10: elapsed is
10/31, expected 1,000, projected 3,720: on track.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from kpi_logic.compute import Record
from kpi_logic.model import KPI, period_start
from kpi_logic.score import BEHIND, ON_TRACK, attainment, is_missing


@dataclass(frozen=True)
class Pace:
    """Where a KPI stands in its target window and where it is heading."""

    kpi: str
    start: date  # first day of the target window (of the period holding ``due``)
    due: date
    as_of: date
    elapsed: float  # share of the window's days that have data, in (0, 1]
    actual: float  # actual to date
    target: float
    expected: float  # what the target calls for by ``as_of``
    projected: float  # actual at ``due`` if the pace holds
    linear: bool  # True: paced over the days; False: a level judged as it stands
    status: str  # "on track" or "behind"

    def projection(self) -> list[Record]:
        """``date, value`` from the actual to date to the projected value at the due date."""
        return [
            {"date": self.as_of, "value": self.actual},
            {"date": self.due, "value": self.projected},
        ]


def pace(kpi: KPI, records: Sequence[Record], as_of: date | None = None) -> Pace | None:
    """Pace of ``kpi`` from its all-categories ``records`` (of ``compute.aggregate_records``
    or ``score.score_records``; other KPIs' records are skipped); None when it can't be told:
    no due date or time column, window not started, no actual or no target for it.

    ``as_of`` defaults to the records' ``as_of`` (the last date with data).
    """
    if kpi.due is None or kpi.time is None:
        return None
    rows = [r for r in records if r["kpi"] == kpi.name and r["category"] is None]
    if as_of is None:
        as_of = max((r["as_of"] for r in rows if r.get("as_of") is not None), default=None)
    start = period_start(kpi.due, kpi.grain)
    if as_of is None or as_of < start:
        return None
    in_window = next((r for r in rows if r["period"] == start), None)
    if in_window is None or is_missing(in_window["actual"]):
        return None
    target = in_window.get("target")  # scored: the target the card shows
    if target is None:
        target = kpi.target_for(None, start, additive=bool(in_window.get("additive", True)))
    if target is None or is_missing(target) or not target:
        return None
    actual = float(in_window["actual"])
    elapsed = ((min(as_of, kpi.due) - start).days + 1) / ((kpi.due - start).days + 1)
    linear = bool(in_window.get("additive", True))
    expected, projected = (target * elapsed, actual / elapsed) if linear else (target, actual)
    rate = attainment(projected, float(target), kpi.direction == "lower")
    return Pace(
        kpi=kpi.name,
        start=start,
        due=kpi.due,
        as_of=as_of,
        elapsed=elapsed,
        actual=actual,
        target=float(target),
        expected=expected,
        projected=projected,
        linear=linear,
        status=ON_TRACK if rate >= kpi.bands.good else BEHIND,
    )
