"""Where a KPI will land at its due date: a projection with an 80% interval, and the
probability of meeting its target by then.

Method: ordinary least squares on the KPI's all-categories value per complete period, a
linear trend plus, when two full years are there (24 months or 8 quarters), one dummy per
month (or quarter) of the year: additive seasonality. It is the textbook regression forecast
(Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, ch. 7, "trend and
seasonal dummies"), in closed form with numpy: no model, nothing downloaded, nothing to tune.

With ``X`` the design matrix (intercept, period number, seasonal dummies) of ``n`` periods and
``p`` columns, ``b`` the least-squares fit and ``s^2 = RSS / (n - p)``, the value of a future
period with row ``x`` is predicted as ``x b`` with standard error
``se = s * sqrt(1 + x (X'X)^-1 x')``, and ``(value - x b) / se`` follows Student's t with
``n - p`` degrees of freedom. The 80% interval is ``x b +- t(0.90, n - p) * se``; the
probability of meeting the target is the t distribution's mass beyond the value that would
be on target (``bands.good x target``, or ``target / bands.good`` when lower is better).
At least ``p + 2`` periods are needed (4 without seasonality); the last 60 are used.

The due date falls in the *due period* (of the KPI's grain). When that period has started
(``as_of`` inside it) part of it is known:

- a sum or count adds the days still to come: ``value = to_date + F x r``, ``se = S x r``
  with ``F, S`` the full period's forecast and standard error and ``r`` the share of the
  period's days left until the due date; when every earlier period was zero or more, the
  value cannot fall below what is in, so a target already reached is 100% (and the interval
  starts at the value to date);
- a level (an average, a ratio) blends: ``value = e x to_date + (1 - e) x F``,
  ``se = S x (1 - e)``, with ``e`` the share of the window's days gone.

When the due date has passed, the value is known: 100% or 0%. A stricter target never
raises the probability (a higher one when higher is better, a lower one when lower is).
``bench/bench_forecast.py`` backtests the interval: see ``bench/RESULTS.md``.

>>> f = forecast_values([10.0, 12.0, 13.0, 15.0, 16.0, 18.0], list(range(6)), 6)
>>> round(f.mean, 2), f.df
(19.4, 4)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import cast

import numpy as np

from kpi_logic.model import KPI, period_start

LEVEL = 0.80  # of the interval
MAX_HISTORY = 60  # periods used at most
SEASONS = {"month": 12, "quarter": 4}  # periods in a year, for the seasonal dummies


@dataclass(frozen=True)
class Forecast:
    """A predictive distribution: ``mean + scale x T`` with ``T`` Student's t (``df``)."""

    mean: float
    scale: float
    df: int
    seasonal: bool

    def interval(self, level: float = LEVEL) -> tuple[float, float]:
        """The central ``level`` interval."""
        half = t_quantile(0.5 + level / 2, self.df) * self.scale
        return self.mean - half, self.mean + half

    def probability_above(self, value: float) -> float:
        """P(outcome >= value)."""
        if self.scale == 0:
            return 1.0 if self.mean >= value else 0.0
        return 1.0 - t_cdf((value - self.mean) / self.scale, self.df)

    def probability_below(self, value: float) -> float:
        """P(outcome <= value)."""
        if self.scale == 0:
            return 1.0 if self.mean <= value else 0.0
        return t_cdf((value - self.mean) / self.scale, self.df)


def forecast_values(
    values: Sequence[float], indexes: Sequence[int], target_index: int, *, season: int = 0
) -> Forecast | None:
    """The forecast of period ``target_index`` from ``values`` at period numbers ``indexes``
    (a trend, plus dummies for ``index % season`` when ``season > 1`` and there are at least
    ``2 x season`` values); None with too few values (module doc)."""
    y = np.asarray(values, dtype="float64")[-MAX_HISTORY:]
    t = np.asarray(indexes, dtype="float64")[-MAX_HISTORY:]
    seasonal = season > 1 and len(y) >= 2 * season
    centre = t.mean() if len(t) else 0.0

    def row(k: np.ndarray) -> np.ndarray:
        columns = [np.ones_like(k), k - centre]
        if seasonal:
            phase = np.mod(k, season)
            columns += [(phase == j).astype("float64") for j in range(1, season)]
        return np.column_stack(columns)

    x = row(t)
    df = len(y) - x.shape[1]
    if df < 2:
        return None
    inverse = np.linalg.pinv(x.T @ x)
    beta = inverse @ x.T @ y
    residuals = y - x @ beta
    sigma = math.sqrt(float(residuals @ residuals) / df)
    ahead = row(np.asarray([float(target_index)]))[0]
    leverage = float(ahead @ inverse @ ahead)
    return Forecast(float(ahead @ beta), sigma * math.sqrt(1 + leverage), df, seasonal)


# --- Student's t, closed form (no scipy) ---------------------------------------------------


def t_cdf(x: float, df: int) -> float:
    """P(T <= x) for Student's t with ``df`` degrees of freedom (incomplete beta function).

    >>> round(t_cdf(1.372, 10), 3)
    0.9
    """
    if math.isinf(x):
        return 1.0 if x > 0 else 0.0
    tail = 0.5 * _incomplete_beta(df / 2, 0.5, df / (df + x * x))
    return 1.0 - tail if x > 0 else tail


@functools.lru_cache(maxsize=512)
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t (bisection on ``t_cdf``).

    >>> round(t_quantile(0.9, 10), 3)
    1.372
    """
    low, high = -1e3, 1e3
    for _ in range(100):
        middle = (low + high) / 2
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) (continued fraction, Lentz)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _incomplete_beta(b, a, 1.0 - x)
    return math.exp(log_front) * _beta_fraction(a, b, x) / a


def _beta_fraction(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-14:
            break
    return result


# --- a KPI's projection ----------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    """A KPI's value at its due date: projected, its 80% interval, the chance of meeting the
    target."""

    kpi: str
    period: date  # the due period's first day
    due: date
    as_of: date
    value: float
    low: float
    high: float
    target: float
    probability: float  # of being on target at the due date, 0..1
    method: str  # "trend", "trend and seasonality", "known"
    periods: int  # history used


def period_index(day: date, grain: str) -> int:
    """A period's number: consecutive periods have consecutive numbers; for months and
    quarters the number modulo 12 (4) is the month (quarter) of the year less one."""
    if grain == "day":
        return day.toordinal()
    if grain == "week":
        return (day.toordinal() - 1) // 7
    if grain == "month":
        return day.year * 12 + day.month - 1
    if grain == "quarter":
        return day.year * 4 + (day.month - 1) // 3
    return day.year


def period_end(start: date, grain: str) -> date:
    """The last day of the period starting on ``start``."""
    if grain == "day":
        return start
    if grain == "week":
        return start + timedelta(days=6)
    months = {"month": 1, "quarter": 3}.get(grain, 12)
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def on_target_threshold(kpi: KPI, target: float) -> float:
    """The value at which ``kpi`` is on target: ``good x target``, or ``target / good`` when
    lower is better."""
    good = kpi.bands.good
    if kpi.direction == "lower":
        return target / good if good else math.inf
    return good * target


def probability(kpi: KPI, forecast: Forecast, target: float, floor: float | None = None) -> float:
    """The chance that ``kpi`` ends on target (``target``) when its value follows
    ``forecast``; with ``floor`` (what is in already, for sums that only grow) a target at or
    below the floor is certain."""
    threshold = on_target_threshold(kpi, target)
    if kpi.direction == "lower":
        return forecast.probability_below(threshold)
    if floor is not None and floor >= threshold:
        return 1.0
    return forecast.probability_above(threshold)


def project(
    kpi: KPI, records: Sequence[Mapping[str, object]], as_of: date | None = None
) -> Projection | None:
    """``kpi``'s projection to its due date from its ``aggregate_records`` (or scored) rows;
    None without a due date, a time column, a target for the due period or enough history.
    ``as_of`` defaults to the rows' last date with data."""
    if kpi.due is None or kpi.time is None:
        return None
    totals = {
        cast(date, r["period"]): _number(r["actual"])
        for r in records
        if r["kpi"] == kpi.name and r["category"] is None and r["period"] is not None
    }
    known = [cast(date, r["as_of"]) for r in records if r["kpi"] == kpi.name and r.get("as_of")]
    as_of = as_of or max(known, default=None)
    start = period_start(kpi.due, kpi.grain)
    additive = any(r.get("additive") for r in records if r["kpi"] == kpi.name)
    found = _scored_target(kpi, records, start)
    if found is None:
        found = kpi.target_for(None, start, additive=additive)
    if as_of is None or found is None:
        return None
    target = float(found)
    to_date = totals.get(start, math.nan)
    if as_of >= kpi.due and not math.isnan(to_date):
        return _known(kpi, start, as_of, to_date, target)
    history = sorted(
        (p, v) for p, v in totals.items() if period_end(p, kpi.grain) <= as_of and p < start
    )
    history = [(p, v) for p, v in history if not math.isnan(v)]
    indexes = [period_index(p, kpi.grain) for p, _ in history]
    full = forecast_values(
        [v for _, v in history],
        indexes,
        period_index(start, kpi.grain),
        season=SEASONS.get(kpi.grain, 0),
    )
    if full is None:
        return None
    days = (period_end(start, kpi.grain) - start).days + 1
    window = (kpi.due - start).days + 1
    seen = min(max((as_of - start).days + 1, 0), window)
    if math.isnan(to_date):
        to_date, seen = 0.0, 0
    floor = None
    if additive:
        left = (window - seen) / days
        outlook = Forecast(to_date + full.mean * left, full.scale * left, full.df, full.seasonal)
        if all(v >= 0 for _, v in history):
            floor = to_date
    else:
        gone = seen / window
        mean = gone * to_date + (1 - gone) * full.mean
        outlook = Forecast(mean, full.scale * (1 - gone), full.df, full.seasonal)
    low, high = outlook.interval()
    if floor is not None:
        low, high = max(low, floor), max(high, floor)
    return Projection(
        kpi=kpi.name,
        period=start,
        due=kpi.due,
        as_of=as_of,
        value=max(outlook.mean, floor) if floor is not None else outlook.mean,
        low=low,
        high=high,
        target=target,
        probability=probability(kpi, outlook, target, floor),
        method="trend and seasonality" if full.seasonal else "trend",
        periods=len(history),
    )


def _known(kpi: KPI, start: date, as_of: date, value: float, target: float) -> Projection:
    """The due date has passed: the value is what it is."""
    certain = Forecast(value, 0.0, 1, seasonal=False)
    return Projection(
        kpi.name, start, cast(date, kpi.due), as_of, value, value, value, target,
        probability(kpi, certain, target), "known", 0,
    )  # fmt: skip


def _scored_target(kpi: KPI, records: Sequence[Mapping[str, object]], start: date) -> float | None:
    """The target scored records give the due period's total (the categories' added up when
    the total has none), None when the records are not scored."""
    for r in records:
        if r["kpi"] == kpi.name and r["category"] is None and r["period"] == start:
            found = _number(r.get("target"))
            return None if math.isnan(found) else found
    return None


def _number(value: object) -> float:
    return math.nan if value is None else float(cast(float, value))
