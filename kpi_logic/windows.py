"""Time windows a reviewer uses (the latest period, month-, quarter- and year-to-date, the last
12 months, a date range, all time), the target of a window, and relative date ranges for
the date filter (``preset_range``: this month, last year, last 30 days...).

A window runs from its first day to its ``end`` (the as-of day: the last date with data,
unless given), both included; ``full_end`` is the last day of the calendar window it is part
of, so a window whose ``end`` is before ``full_end`` is partial. Quarters and years are fiscal:
they start in the KPI set's fiscal year start month. Last year's window is the same days one
year earlier, so a partial period is compared with the same days of last year's, never with a
whole period.

Window targets (``window_target``):

- additive measures (sums, counts): the sum of the per-period targets of the window's
  periods, each pro-rated by the share of its calendar days inside the window;
- other measures (ratios, averages, distinct counts, min, max, median): the target of the
  period holding the window's last day.

Example: a monthly target of 31,000 and year-to-date on 10 March (calendar year): January and
February count whole (62,000) and March for 10 of its 31 days (10,000): 72,000.

>>> w = window("ytd", date(2025, 3, 10))
>>> (w.start, w.end, w.partial, w.last_year().start)
(datetime.date(2025, 1, 1), datetime.date(2025, 3, 10), True, datetime.date(2024, 1, 1))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from kpi_logic.errors import KPIDefinitionError
from kpi_logic.model import KPI, period_start
from kpi_logic.score import is_missing

WINDOWS = ("period", "mtd", "qtd", "ytd", "last-12", "range", "all")
WINDOW_LABELS = {
    "period": "Latest period",
    "mtd": "Month to date",
    "qtd": "Quarter to date",
    "ytd": "Year to date",
    "last-12": "Last 12 months",
    "range": "Date range of the filter",
    "all": "All time",
}


@dataclass(frozen=True)
class Window:
    """The days a KPI is judged over."""

    kind: str
    start: date
    end: date  # the last day counted (inclusive)
    full_end: date  # the last day of the whole calendar window

    @property
    def partial(self) -> bool:
        """True when the window stops before its calendar end (a period still running)."""
        return self.end < self.full_end

    def last_year(self) -> Window:
        """The same days one year earlier (29 February becomes the 28th)."""
        return Window(self.kind, *(year_before(d) for d in (self.start, self.end, self.full_end)))


def window(
    kind: str,
    as_of: date,
    *,
    grain: str = "month",
    fiscal_year_start: int = 1,
    first: date | None = None,
    start: date | None = None,
    end: date | None = None,
) -> Window:
    """The window ``kind`` (one of ``WINDOWS``) ending on ``as_of``: ``period`` is the period
    of ``grain`` holding it; ``range`` runs from ``start`` to ``end`` (``as_of`` when missing);
    ``all`` from ``first`` (the first date with data)."""
    if kind not in WINDOWS:
        raise KPIDefinitionError(f"window {kind!r} is not one of {', '.join(WINDOWS)}")
    if kind == "range":
        first_day, last_day = start or first or as_of, end or as_of
        if first_day > last_day:
            raise KPIDefinitionError(f"the window starts on {first_day}, after its end {last_day}")
        return Window(kind, first_day, last_day, last_day)
    if kind == "all":
        return Window(kind, min(first or as_of, as_of), as_of, as_of)
    begin, months = _calendar_window(kind, as_of, grain, fiscal_year_start)
    full_end = _after(begin, grain, months) - timedelta(days=1)
    return Window(kind, begin, as_of, full_end)


def _calendar_window(kind: str, as_of: date, grain: str, fiscal: int) -> tuple[date, int]:
    """First day of the window holding ``as_of`` and its length in months (0: one period)."""
    month = as_of.replace(day=1)
    if kind == "period":
        return period_start(as_of, grain), 0
    if kind == "mtd":
        return month, 1
    if kind == "last-12":
        return _add_months(month, -11), 12
    length = 3 if kind == "qtd" else 12
    into = (as_of.month - fiscal) % length  # months since the fiscal quarter or year began
    return _add_months(month, -into), length


def _after(begin: date, grain: str, months: int) -> date:
    """The day after a window of ``months`` months (0: one ``grain`` period) from ``begin``."""
    if months:
        return _add_months(begin, months)
    steps: dict[str, Callable[[date], date]] = {
        "day": lambda d: d + timedelta(days=1),
        "week": lambda d: d + timedelta(days=7),
        "month": lambda d: _add_months(d, 1),
        "quarter": lambda d: _add_months(d, 3),
        "year": lambda d: _add_months(d, 12),
    }
    return steps[grain](begin)


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def year_before(day: date) -> date:
    """The same day one year earlier (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def periods_in(kpi: KPI, start: date, end: date) -> list[tuple[date, float]]:
    """The ``kpi.grain`` periods overlapping ``start``..``end``, each with the share of its
    calendar days inside (1.0 for a whole period).

    >>> found = periods_in(KPI("x", "sum(x)", time="d"), date(2025, 1, 17), date(2025, 2, 28))
    >>> [(f"{p:%b}", round(share, 3)) for p, share in found]
    [('Jan', 0.484), ('Feb', 1.0)]
    """
    found = []
    begin = period_start(start, kpi.grain)
    while begin <= end:
        following = _after(begin, kpi.grain, 0)
        inside = (min(end, following - timedelta(days=1)) - max(start, begin)).days + 1
        found.append((begin, inside / (following - begin).days))
        begin = following
    return found


def window_target(kpi: KPI, category: str | None, span: Window, *, additive: bool) -> float | None:
    """The target of ``kpi``'s ``category`` (None: the all-categories row) over ``span`` (see
    the module doc); None where a period of an additive window, or the last period of another,
    has no target. An additive total without targets of its own is left to the caller, who
    adds up its categories' (``score`` does the same per period)."""
    if not additive:
        return kpi.target_for(category, period_start(span.end, kpi.grain), additive=False)
    total = 0.0
    for begin, share in periods_in(kpi, span.start, span.end):
        found = kpi.target_for(category, begin, additive=True)
        if found is None:
            return None
        total += found * share
    return total


DATE_PRESETS = {
    "this-month": "This month",
    "last-month": "Last month",
    "this-quarter": "This quarter",
    "this-year": "This year",
    "last-year": "Last year",
    "last-30": "Last 30 days",
    "last-90": "Last 90 days",
}


def preset_range(name: str, today: date, *, fiscal_year_start: int = 1) -> tuple[date, date]:
    """The first and last day of a relative date range (one of ``DATE_PRESETS``) as seen on
    ``today`` (the last date with data); quarters and years are fiscal.

    >>> preset_range("last-month", date(2025, 3, 10))
    (datetime.date(2025, 2, 1), datetime.date(2025, 2, 28))
    """
    if name in ("last-30", "last-90"):
        return today - timedelta(days=int(name[5:]) - 1), today
    kind = {"this-month": "mtd", "last-month": "mtd", "this-quarter": "qtd"}.get(name, "ytd")
    span = window(kind, today, fiscal_year_start=fiscal_year_start)
    if name == "last-month":
        begin = _add_months(span.start, -1)
        return begin, span.start - timedelta(days=1)
    if name == "last-year":
        return span.last_year().start, span.start - timedelta(days=1)
    return span.start, span.full_end


def partial_periods(grain: str, first: date, last: date) -> list[tuple[date, date, date]]:
    """The periods of ``grain`` that the data from ``first`` to ``last`` covers only in part:
    ``(period start, first day with data, last day with data)`` for the first and the last
    period, so a chart can say that it compares a part with a whole.

    >>> partial_periods("year", date(2013, 3, 5), date(2016, 8, 20))
    [(datetime.date(2013, 1, 1), datetime.date(2013, 3, 5), datetime.date(2013, 12, 31)), \
(datetime.date(2016, 1, 1), datetime.date(2016, 1, 1), datetime.date(2016, 8, 20))]
    """
    found = []
    opening = period_start(first, grain)
    if first > opening:
        end = _after(opening, grain, 0) - timedelta(days=1)
        found.append((opening, first, min(end, last)))
    closing = period_start(last, grain)
    if last < _after(closing, grain, 0) - timedelta(days=1) and (closing != opening or not found):
        found.append((closing, max(closing, first), last))
    return found


def cumulative(
    kpi: KPI, records: Sequence[Mapping[str, Any]], span: Window
) -> list[dict[str, Any]]:
    """Running totals of an additive KPI through ``span``, one row per period of its grain
    (``records``: its scored all-categories records): ``actual`` to date (None for periods
    after the window's end), ``target`` (the periods' targets added up through the whole
    window: where the KPI should end) and ``last_year`` (the same periods a year earlier; None
    once a period of last year is unknown)."""
    totals = {r["period"]: r for r in records if r["kpi"] == kpi.name and r["category"] is None}
    rows: list[dict[str, Any]] = []
    actual, target = 0.0, 0.0
    before: float | None = 0.0
    for begin, _ in periods_in(kpi, span.start, span.full_end):
        own = totals.get(begin, {})
        found = own.get("target")
        if is_missing(found):  # a period without data: the KPI's own target for it
            found = kpi.target_for(None, begin, additive=True)
        target += 0.0 if found is None else float(found)
        then = totals.get(year_before(begin), {}).get("actual")
        before = None if before is None or then is None or is_missing(then) else before + then
        done = begin <= span.end
        if done and not is_missing(own.get("actual")):
            actual += float(own["actual"])
        rows.append(
            {"period": begin, "actual": actual if done else None, "target": target,
             "last_year": before}
        )  # fmt: skip
    return rows
