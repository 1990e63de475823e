"""Starting targets from a KPI's own history, with the rule stated in words, and its bands.

The latest period is the one judged, so it never sets its own target; only the periods
before it do (``latest`` below):

- volume KPIs (one sum, count or distinct count) at a week, month or quarter grain: the same
  period a year earlier, grown by the recent growth, i.e. ``last_year * recent / year_before``
  where ``recent`` is the sum of the last ``recent_periods(grain)`` periods before ``latest``
  and ``year_before`` the sum of the same periods a year earlier;
- otherwise (ratios, averages, or too little history for the first rule): the median of the
  (at most ``HISTORY``) periods with a value before ``latest``.

Targets are never below 0 (a KPI file refuses them). Bands: on target from 100%; at risk
from 90% for volumes, from 95% for ratios and averages (they move less).

>>> from datetime import date
>>> series = {date(2024, m, 1): float(m) for m in range(1, 5)}
>>> propose(series, "month", volume=False, latest=date(2024, 4, 1)).value
2.0
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from kpi_logic.model import Bands

VOLUME_FUNCTIONS = ("sum", "count", "count_distinct")  # one of these alone: a volume KPI
HISTORY = 12  # periods a median looks back over
PERIODS_PER_YEAR = {"week": 52, "month": 12, "quarter": 4}
VOLUME_BANDS = Bands(good=1.0, warning=0.9)
RATIO_BANDS = Bands(good=1.0, warning=0.95)


@dataclass(frozen=True)
class Proposal:
    """A starting target (None when the history has no value to go by) and how it was set."""

    value: float | None
    rule: str


def recent_periods(grain: str) -> int:
    """How many periods make the recent growth: a quarter's worth (3 months, 13 weeks)."""
    return max(1, PERIODS_PER_YEAR.get(grain, 4) // 4)


def shift(period: date, grain: str, steps: int) -> date:
    """The first day of the period ``steps`` periods before ``period`` (itself a first day).

    >>> shift(date(2024, 2, 1), "quarter", 1)
    datetime.date(2023, 11, 1)
    """
    if grain == "day":
        return period - timedelta(days=steps)
    if grain == "week":
        return period - timedelta(weeks=steps)
    index = period.year * 12 + period.month - 1 - steps * {"month": 1, "quarter": 3}.get(grain, 12)
    return date(index // 12, index % 12 + 1, 1)


def label(period: date, grain: str) -> str:
    """A period as people name it: ``Mar 2025``, ``Q1 2025``, ``2025``, ``week of 2025-03-03``."""
    if grain == "month":
        return period.strftime("%b %Y")
    if grain == "quarter":
        return f"Q{(period.month - 1) // 3 + 1} {period.year}"
    if grain == "year":
        return str(period.year)
    return f"week of {period}" if grain == "week" else str(period)


def propose(series: Mapping[date, float], grain: str, *, volume: bool, latest: date) -> Proposal:
    """The starting target for period ``latest`` from ``series`` (period -> value, NaN or
    missing where there is none), by the module's rules."""
    if volume:
        grown = _last_year_grown(series, grain, latest)
        if grown is not None:
            return grown
    return _median(series, grain, latest)


def bands_for(volume: bool) -> Bands:
    """The starting bands of a volume KPI or of a ratio or average."""
    return VOLUME_BANDS if volume else RATIO_BANDS


def _value(series: Mapping[date, float], period: date) -> float | None:
    value = series.get(period)
    return value if value is not None and value == value else None  # NaN is no value


def _last_year_grown(series: Mapping[date, float], grain: str, latest: date) -> Proposal | None:
    """Same period last year times recent growth; None without the history it needs."""
    year = PERIODS_PER_YEAR.get(grain)
    if year is None:
        return None
    last_year = _value(series, shift(latest, grain, year))
    n = recent_periods(grain)
    recent = [_value(series, shift(latest, grain, k)) for k in range(1, n + 1)]
    before = [_value(series, shift(latest, grain, year + k)) for k in range(1, n + 1)]
    if last_year is None or None in recent or None in before:
        return None
    year_before = sum(v for v in before if v is not None)
    if year_before <= 0:
        return None
    growth = sum(v for v in recent if v is not None) / year_before
    first, last = shift(latest, grain, n), shift(latest, grain, 1)
    span = label(last, grain) if n == 1 else f"{label(first, grain)}–{label(last, grain)}"
    rule = (
        f"same {grain} last year ({label(shift(latest, grain, year), grain)}) grown by the "
        f"recent growth ({span} against a year earlier: {growth - 1:+.1%})"
    )
    return Proposal(max(0.0, last_year * growth), rule)


def _median(series: Mapping[date, float], grain: str, latest: date) -> Proposal:
    """Median of the last ``HISTORY`` periods with a value before ``latest``."""
    before = sorted((p, v) for p in series if p < latest and (v := _value(series, p)) is not None)
    values = [v for _, v in before[-HISTORY:]]
    if not values:
        return Proposal(None, f"no history before {label(latest, grain)}: set a target by hand")
    first = label(before[-len(values)][0], grain)
    periods = f"{len(values)} {grain}s" if len(values) > 1 else f"1 {grain}"
    rule = f"median of the {periods} before {label(latest, grain)} (from {first})"
    return Proposal(max(0.0, statistics.median(values)), rule)
