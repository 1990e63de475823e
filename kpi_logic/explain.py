"""Why a KPI is off target (or moved): each category's contribution to the total's gap.

The gap of a KPI in a period is its all-categories actual minus a baseline: its target, the
previous period's actual or the same period last year's. Every category gets a contribution,
and the contributions add up exactly to that gap.

Additive measures (``sum``, ``count``, and ``+``/``-`` of them): the total is the sum of its
categories, so a category's contribution is its own gap, ``actual - target``. A category
without a target has nothing allocated (its whole actual is its gap). When the total's target
``T`` is more (or less) than the categories' targets, the rest is a line of its own, the
unallocated rest, contributing ``sum(targets) - T``. Without a total target, ``T`` is the sum
of the categories' targets.

Ratio measures (``sum(a) / sum(b)``, and ``avg(x)`` = ``sum(x) / count(x)``): with ``N_c``,
``D_c`` a category's numerator and denominator, ``N``, ``D`` the total's, ``w_c = D_c / D``
its share of the denominator, ``r_c = N_c / D_c`` its ratio, ``R = N / D = sum(w_c r_c)``::

    against a target (t_c the category's target, T the total's):
        contribution_c = (N_c - D_c T) / D          = w_c (r_c - T)
        mix_c          = w_c (t_c - T)              its share x how far its target is from T
        rate_c         = contribution_c - mix_c     = w_c (r_c - t_c): its own ratio vs target
    against an earlier period (0) from the current one (1):
        contribution_c = (N1_c - D1_c R0) / D1 - (N0_c - D0_c R0) / D0
        mix_c          = (w1_c - w0_c) (r0_c - R0)  its share moved, weighed by its old ratio
        rate_c         = contribution_c - mix_c     = w1_c (r1_c - r0_c): its own ratio moved

Each sum adds up to ``R - T`` (or ``R1 - R0``) because the shares add up to 1. A category
without a target is judged at ``T``; without a total target, ``T = sum(w_c t_c)`` (what the
categories' targets make at the actual mix). A category absent in one period has ``r_c =
R`` there.

Worked example (margin = sum(profit) / sum(revenue), target 30% in total, West 25%):

    ========  ======  =======  =====  =====  ======  =======  ======  ============
    category  profit  revenue  w      r      target  rate     mix     contribution
    ========  ======  =======  =====  =====  ======  =======  ======  ============
    East          30      100  0.25   0.30   0.30     0.000    0.000     0.000
    West          40      200  0.50   0.20   0.25    -0.025   -0.025    -0.050
    North         20      100  0.25   0.20   0.30    -0.025    0.000    -0.025
    total         90      400         0.225  0.30                       -0.075
    ========  ======  =======  =====  =====  ======  =======  ======  ============

West's margin is 5 points under its own target (rate: 0.50 x -0.05) and its target is 5
points under the total's with half the revenue (mix: 0.50 x -0.05); North misses its target
on a quarter of the revenue. The contributions add up to 22.5% - 30% = -7.5 points.

Other measures (``count_distinct``, ``median``, ``min``, ``max``, products...) do not split
into parts that add up; ``explain`` refuses them with a message.

>>> [round(c, 3) for c in ratio_contributions([30, 40, 20], [100, 200, 100],
...                                           [0.30, 0.25, 0.30], 0.30)[0]]
[0.0, -0.05, -0.025]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import cast

import duckdb

from kpi_logic import compute
from kpi_logic.errors import KPIExplorerError
from kpi_logic.expressions.parts import is_linear, ratio_parts
from kpi_logic.model import KPI, period_start

TARGET, PREVIOUS, LAST_YEAR = "target", "previous period", "last year"
AGAINST = (TARGET, PREVIOUS, LAST_YEAR)
CATEGORY, UNALLOCATED, ALL = "category", "unallocated", "all"  # kinds of line
UNALLOCATED_LABEL = "(unallocated)"
ALL_LABEL = "(all)"
_NUMERATOR, _DENOMINATOR = "\x00numerator", "\x00denominator"  # helper KPI name suffixes


class ExplainError(KPIExplorerError):
    """A KPI or period that cannot be explained, with the reason in words."""


@dataclass(frozen=True)
class Line:
    """One category's part of the gap (or the unallocated rest)."""

    category: str  # the category's text, or a label for the rest / a KPI without ``by``
    kind: str  # CATEGORY, UNALLOCATED or ALL
    actual: float  # 0 on the unallocated line (its target is the total's not allocated)
    target: float  # the baseline: target, previous or last year's actual (NaN when none)
    gap: float  # actual - target (the whole actual for a category without a target)
    contribution: float
    rate: float | None = None  # ratio measures only
    mix: float | None = None
    share: float | None = None  # of the denominator


@dataclass(frozen=True)
class Explanation:
    """A KPI's gap in one period against a baseline, split into lines (largest first)."""

    kpi: str
    period: date | None
    against: str  # one of AGAINST
    baseline_period: date | None  # the earlier period for PREVIOUS / LAST_YEAR
    actual: float
    baseline: float
    gap: float
    ratio: bool
    lines: list[Line]

    @property
    def top(self) -> Line | None:
        """The largest contributor: the line with the largest contribution in the gap's
        direction (the largest in size when the gap is 0 or no line goes its way)."""
        sign = math.copysign(1.0, self.gap) if self.gap else 0.0
        same = [line for line in self.lines if line.contribution * sign > 0]
        found = same or self.lines
        return found[0] if found else None


# --- the formulas ----------------------------------------------------------------------


def ratio_contributions(
    numerators: Sequence[float],
    denominators: Sequence[float],
    targets: Sequence[float],
    total_target: float | None,
) -> tuple[list[float], list[float], list[float]]:
    """``(contributions, rates, mixes)`` of each category of a ratio against targets (module
    doc); a NaN target counts as the total's, a None total target is ``sum(w_c t_c)``."""
    d = math.fsum(denominators)
    shares = [d_c / d for d_c in denominators]
    if total_target is None:
        known = [(w, t) for w, t in zip(shares, targets, strict=True) if not math.isnan(t)]
        weight = math.fsum(w for w, _ in known)
        if not weight:
            raise ExplainError("no category with a target has a share of the denominator")
        total_target = math.fsum(w * t for w, t in known) / weight
    goal = cast(float, total_target)
    own = [goal if math.isnan(t) else t for t in targets]
    contributions = [
        (n_c - d_c * goal) / d for n_c, d_c in zip(numerators, denominators, strict=True)
    ]
    mixes = [w * (t - goal) for w, t in zip(shares, own, strict=True)]
    rates = [c - m for c, m in zip(contributions, mixes, strict=True)]
    return contributions, rates, mixes


def ratio_changes(
    now: Sequence[tuple[float, float]], before: Sequence[tuple[float, float]]
) -> tuple[list[float], list[float], list[float]]:
    """``(contributions, rates, mixes)`` of each category's ``(numerator, denominator)`` pair
    from ``before`` to ``now`` (module doc); a missing category is ``(0, 0)``."""
    d1 = math.fsum(p[1] for p in now)
    n0, d0 = math.fsum(p[0] for p in before), math.fsum(p[1] for p in before)
    r0 = n0 / d0
    contributions, rates, mixes = [], [], []
    for (a1, b1), (a0, b0) in zip(now, before, strict=True):
        contribution = (a1 - b1 * r0) / d1 - (a0 - b0 * r0) / d0
        own_before = a0 / b0 if b0 else r0
        mix = (b1 / d1 - b0 / d0) * (own_before - r0)
        contributions.append(contribution)
        mixes.append(mix)
        rates.append(contribution - mix)
    return contributions, rates, mixes


# --- from aggregate records ------------------------------------------------------------


def helper_kpis(kpi: KPI, columns: Sequence[str]) -> list[KPI]:
    """The numerator and denominator of a ratio KPI as KPIs of their own (same time, grain,
    category and filter), to aggregate beside it; none for other measures."""
    parts = ratio_parts(kpi.measure, columns)
    if parts is None:
        return []
    return [
        dataclasses.replace(kpi, name=kpi.name + suffix, measure=text)
        for suffix, text in zip((_NUMERATOR, _DENOMINATOR), parts, strict=True)
    ]


def pick_period(kpi: KPI, records: Sequence[Mapping[str, object]], as_of: date | None) -> date:
    """The period explained: the one holding ``as_of``, else the latest with a total actual."""
    if as_of is not None:
        return period_start(as_of, kpi.grain)
    seen = [
        cast(date, r["period"])
        for r in records
        if r["kpi"] == kpi.name and r["category"] is None and r["period"] is not None
        if not math.isnan(cast(float, r["actual"]))
    ]
    if not seen:
        raise ExplainError(f'KPI "{kpi.name}" has no data to explain.')
    return max(seen)


def baseline_period(period: date, grain: str, against: str) -> date | None:
    """The earlier period compared with: the one before, or the same one a year before."""
    if against == PREVIOUS:
        return period_start(period - timedelta(days=1), grain)
    if against == LAST_YEAR:
        if grain == "week":
            return period - timedelta(weeks=52)
        if period.month == 2 and period.day == 29:
            return period.replace(year=period.year - 1, day=28)
        return period.replace(year=period.year - 1)
    return None


def explain_records(
    kpi: KPI,
    records: Sequence[Mapping[str, object]],
    *,
    period: date | None,
    against: str = TARGET,
    helpers: bool | None = None,
) -> Explanation:
    """``kpi``'s gap in ``period`` from ``compute.aggregate_records`` rows (of the KPI, and of
    its ``helper_kpis`` for a ratio) against ``against``; lines largest contribution first.
    ``helpers`` says whether the ratio's helper rows are there (default: found by name)."""
    if against not in AGAINST:
        raise ExplainError(f"against must be one of {', '.join(AGAINST)}")
    if kpi.time is None:
        period = None
    if against != TARGET and period is None:
        raise ExplainError(f'KPI "{kpi.name}" has no date column to compare periods.')
    table = _cells(records)
    ratio = helpers if helpers is not None else (kpi.name + _NUMERATOR) in table["kpis"]
    earlier = None if period is None else baseline_period(period, kpi.grain, against)
    categories = _categories(kpi, table, period, earlier)
    if ratio:
        lines, total, base = _ratio_lines(kpi, table, categories, period, earlier)
    elif is_linear(kpi.measure):
        lines, total, base = _additive_lines(kpi, table, categories, period, earlier)
    else:
        raise ExplainError(
            f'KPI "{kpi.name}": {kpi.measure} does not split into parts that add up; only sums, '
            "counts and ratios of them can be explained by category."
        )
    lines.sort(key=lambda line: (-abs(line.contribution), line.category))
    return Explanation(kpi.name, period, against, earlier, total, base, total - base, ratio, lines)


_Key = tuple[str, str | None, date | None]


def _cells(records: Sequence[Mapping[str, object]]) -> dict:
    values: dict[_Key, float] = {}
    for r in records:
        key = (
            cast(str, r["kpi"]),
            cast("str | None", r["category"]),
            cast("date | None", r["period"]),
        )
        values[key] = float(cast(float, r["actual"]))
    return {"values": values, "kpis": {k[0] for k in values}}


def _categories(kpi: KPI, table: dict, period: date | None, earlier: date | None) -> list[str]:
    if kpi.by is None:
        return []
    found = {
        cast(str, c)
        for (name, c, p), value in table["values"].items()
        if name == kpi.name and c is not None and p in (period, earlier)
    }
    return sorted(found)


def _value(table: dict, name: str, category: str | None, period: date | None) -> float:
    value = table["values"].get((name, category, period), math.nan)
    return value


def _require(kpi: KPI, value: float, what: str) -> float:
    if math.isnan(value):
        raise ExplainError(f'KPI "{kpi.name}" has no {what}.')
    return value


def _additive_lines(
    kpi: KPI, table: dict, categories: list[str], period: date | None, earlier: date | None
) -> tuple[list[Line], float, float]:
    total = _require(kpi, _value(table, kpi.name, None, period), "actual in that period")
    if earlier is not None:
        base = _require(kpi, _value(table, kpi.name, None, earlier), "actual to compare with")
        if not categories:
            return [Line(ALL_LABEL, ALL, total, base, total - base, total - base)], total, base
        lines = []
        for c in categories:
            now, before = (_zero(_value(table, kpi.name, c, p)) for p in (period, earlier))
            lines.append(Line(c, CATEGORY, now, before, now - before, now - before))
        return lines, total, base
    if not categories:
        target = kpi.target_for(None, period)
        if target is None:
            raise ExplainError(f'KPI "{kpi.name}" has no target in that period.')
        gap = total - target
        return [Line(ALL_LABEL, ALL, total, float(target), gap, gap)], total, float(target)
    lines, allocated = [], []
    for c in categories:
        actual = _zero(_value(table, kpi.name, c, period))
        found = kpi.target_for(c, period)
        own = 0.0 if found is None else float(found)
        allocated.append(own)
        shown = math.nan if found is None else own
        lines.append(Line(c, CATEGORY, actual, shown, actual - own, actual - own))
    total_target = kpi.target_for(None, period)
    if total_target is None and all(line.target != line.target for line in lines):
        raise ExplainError(f'KPI "{kpi.name}" has no target in that period.')
    goal = math.fsum(allocated) if total_target is None else float(total_target)
    rest = math.fsum(allocated) - goal
    if rest != 0:
        lines.append(Line(UNALLOCATED_LABEL, UNALLOCATED, 0.0, -rest, rest, rest))
    return lines, total, goal


def _zero(value: float) -> float:
    """A category without rows in a period counts 0 in a sum."""
    return 0.0 if math.isnan(value) else value


def _ratio_lines(
    kpi: KPI, table: dict, categories: list[str], period: date | None, earlier: date | None
) -> tuple[list[Line], float, float]:
    num, den = kpi.name + _NUMERATOR, kpi.name + _DENOMINATOR
    parts: list[str | None] = list(categories) or [None]

    def pairs(p: date | None) -> list[tuple[float, float]]:
        return [(_zero(_value(table, num, c, p)), _zero(_value(table, den, c, p))) for c in parts]

    now = pairs(period)
    d1 = math.fsum(d for _, d in now)
    if d1 == 0:
        raise ExplainError(f'KPI "{kpi.name}": the denominator is 0 in that period.')
    total = math.fsum(n for n, _ in now) / d1
    shares = [d / d1 for _, d in now]
    labels = [(c, CATEGORY) if c is not None else (ALL_LABEL, ALL) for c in parts]
    if earlier is not None:
        before = pairs(earlier)
        d0 = math.fsum(d for _, d in before)
        if d0 == 0:
            raise ExplainError(f'KPI "{kpi.name}" has no value to compare with.')
        base = math.fsum(n for n, _ in before) / d0
        contributions, rates, mixes = ratio_changes(now, before)
        olds = [n / d if d else math.nan for n, d in before]
    else:
        goal = kpi.target_for(None, period, additive=False)
        olds = [_target(kpi, c, period) for c in parts]
        if goal is None and all(math.isnan(t) for t in olds):
            raise ExplainError(f'KPI "{kpi.name}" has no target in that period.')
        contributions, rates, mixes = ratio_contributions(
            [n for n, _ in now], [d for _, d in now], olds, None if goal is None else float(goal)
        )
        base = total - math.fsum(contributions)
    lines = [
        Line(
            label,
            kind,
            n / d if d else math.nan,
            old,
            (n / d if d else math.nan) - old,
            c,
            rate,
            mix,
            share,
        )
        for (label, kind), (n, d), old, c, rate, mix, share in zip(
            labels, now, olds, contributions, rates, mixes, shares, strict=True
        )
    ]
    return lines, total, base


def _target(kpi: KPI, category: str | None, period: date | None) -> float:
    found = kpi.target_for(category, period, additive=False)  # a ratio's
    return math.nan if found is None else float(found)


# --- running it ------------------------------------------------------------------------


def explain(
    con: duckdb.DuckDBPyConnection,
    table: str,
    kpi: KPI,
    *,
    as_of: date | None = None,
    against: str = TARGET,
    start: date | None = None,
    end: date | None = None,
    categories: compute.Categories | None = None,
) -> Explanation:
    """Aggregate ``kpi`` (and a ratio's parts, in the same query) up to ``as_of`` and explain
    the period holding it (the latest with data without ``as_of``) against ``against``."""
    columns = compute.table_columns(con, table)
    helpers = helper_kpis(kpi, list(columns))
    last = min((d for d in (as_of, end) if d is not None), default=None)
    records = compute.aggregate_records(
        con, table, [kpi, *helpers], start=start, end=last, categories=categories
    )
    period = pick_period(kpi, records, as_of) if kpi.time else None
    return explain_records(kpi, records, period=period, against=against, helpers=bool(helpers))


def reading(explanation: Explanation, unit: str, currency: str) -> str:
    """One plain sentence on the largest contributor, e.g. ``West accounts for -$12.4K of the
    -$15.0K gap to target.``; ``currency``: the KPI set's symbol (``formats.symbol``; empty:
    the locale's)."""
    from kpi_logic.charts import format_value  # the one number format (loads Altair)

    top = explanation.top
    whole = format_value(explanation.gap, unit, signed=True, currency=currency)
    what = (
        "gap to target"
        if explanation.against == TARGET
        else (
            f"change against the {explanation.against}"
            if explanation.against == PREVIOUS
            else "change against last year"
        )
    )
    if top is None or explanation.gap == 0 and top.contribution == 0:
        return f"No {what}: the KPI is exactly at {whole}."
    if top.kind == ALL:
        return f"The whole {whole} {what} is the KPI's own: it has no categories to split it by."
    part = format_value(top.contribution, unit, signed=True, currency=currency)
    name = "The unallocated rest of the total target" if top.kind == UNALLOCATED else top.category
    return f"{name} accounts for {part} of the {whole} {what}."
