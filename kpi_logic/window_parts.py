"""Any time window's actual from per-day parts, without a query, for the measures whose value
over a window follows from its days' values: a sum or a count (the days' values added), a
minimum or maximum (the days' smallest or largest), sums and counts joined by ``+`` and
``-``, and a ratio of two such (``avg(x)`` is ``sum(x) / count(x)``), each aggregate added up
over the window before they are combined (never an average of daily ratios).

The per-day parts are one aggregate (day grain, by category, the KPIs' own filters) that the
app computes once per dataset and category filter (:func:`day_parts`) and keeps, so that
switching the window costs no query. Every other measure (a distinct count, a median, a
product) over a new window is a query (:func:`kpi_logic.scorecard.window_actuals`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from kpi_logic import compute, expressions
from kpi_logic.compute import Record
from kpi_logic.expressions.parts import linear_terms, ratio_parts
from kpi_logic.model import KPI
from kpi_logic.windows import Window

ROWS = "count(*)"  # a part of every KPI: which categories have rows in a window
Terms = tuple[tuple[int, str], ...]  # signed one-aggregate measures added up
_EXTREMES: dict[str, Callable[[list[float]], float]] = {"min": min, "max": max}


@dataclass(frozen=True)
class Recipe:
    """How a KPI's window value follows from per-day values: ``combine`` (``sum``, ``min``,
    ``max`` or ``ratio``) of the signed parts in ``numerator`` (over those in ``denominator``
    for a ratio), each part named by its per-day aggregate; ``rows`` names the part counting
    the KPI's rows."""

    combine: str
    numerator: Terms
    denominator: Terms
    rows: str
    additive: bool


Days = list[tuple[date | None, float]]  # (day, value) of one part and category, by day


@dataclass(frozen=True)
class DailyParts:
    """Each derivable KPI's recipe and the per-day values of every part by category
    (category None: all categories)."""

    recipes: dict[str, Recipe] = field(default_factory=dict)
    days: dict[tuple[str, str | None], Days] = field(default_factory=dict)


def recipe_of(kpi: KPI, columns: Sequence[str]) -> tuple[str, Terms, Terms] | None:
    """``(combine, numerator terms, denominator terms)`` of a KPI whose window value follows
    from per-day values, None for any other measure.

    >>> recipe_of(KPI("Margin", '(sum("s") - sum("c")) / sum("s")'), ["s", "c"])
    ('ratio', ((1, 'sum("s")'), (-1, 'sum("c")')), ((1, 'sum("s")'),))
    """
    simple = expressions.aggregate_of(kpi.measure, columns)
    if simple and simple[0] in _EXTREMES:
        return simple[0], ((1, kpi.measure),), ()
    terms = linear_terms(kpi.measure, columns)
    if terms is not None:
        return "sum", tuple(terms), ()
    ratio = ratio_parts(kpi.measure, columns)
    if ratio is None:
        return None
    top, bottom = (linear_terms(side, columns) for side in ratio)
    if top is None or bottom is None:
        return None
    return "ratio", tuple(top), tuple(bottom)


def day_parts(
    kpis: Sequence[KPI],
    columns: Mapping[str, str],
    aggregate: Callable[[list[KPI]], list[Record]],
) -> DailyParts:
    """The per-day parts of the ``kpis`` that have a recipe; ``aggregate`` computes
    ``compute.aggregate_records`` of the part KPIs over the table (one query per group)."""
    names = list(columns)
    recipes: dict[str, Recipe] = {}
    part_kpis: dict[tuple, KPI] = {}

    def part(kpi: KPI, measure: str) -> str:
        key = (measure, kpi.time, kpi.by, kpi.filter)
        if key not in part_kpis:
            name = f"part {len(part_kpis)}"
            part_kpis[key] = KPI(
                name, measure, time=kpi.time, grain="day", by=kpi.by, filter=kpi.filter
            )
        return part_kpis[key].name

    for kpi in kpis:
        found = recipe_of(kpi, names)
        if found is not None:
            combine, top, bottom = found
            recipes[kpi.name] = Recipe(
                combine,
                tuple((sign, part(kpi, m)) for sign, m in top),
                tuple((sign, part(kpi, m)) for sign, m in bottom),
                part(kpi, ROWS),
                compute.is_additive(kpi.measure, names),
            )
    days: dict[tuple[str, str | None], Days] = {}
    for record in aggregate(list(part_kpis.values())) if part_kpis else []:
        key = (record["kpi"], record["category"])
        days.setdefault(key, []).append((record["period"], record["actual"]))
    return DailyParts(recipes, days)


def window_records(daily: DailyParts, kpi: KPI, span: Window | None) -> list[Record]:
    """``kpi``'s records over ``span`` (all its days when None) from ``daily``, as
    ``compute.aggregate_records(..., whole=True)`` gives them: the all-categories row first,
    then one per category with rows in the window."""
    recipe = daily.recipes[kpi.name]
    categories = sorted(
        (c for name, c in daily.days if name == recipe.rows),
        key=lambda c: (c is not None, c or ""),
    )
    combine = _EXTREMES.get(recipe.combine, sum)
    found: list[Record] = []
    for category in categories:
        rows, last = _over(daily.days[recipe.rows, category], span, sum)
        if not rows > 0:
            continue

        def side(terms: Terms, category: str | None = category) -> float:
            """The terms over the window added up: missing when any term is (as in SQL)."""
            return sum(
                sign * _over(daily.days.get((name, category), []), span, combine)[0]
                for sign, name in terms
            )

        actual = side(recipe.numerator)
        if recipe.combine == "ratio":
            denominator = side(recipe.denominator)
            actual = actual / denominator if denominator else math.nan
        found.append(
            {
                "kpi": kpi.name,
                "category": category,
                "period": None if span is None else span.start,
                "actual": actual if math.isfinite(actual) else math.nan,
                "as_of": found[0]["as_of"] if found else last,  # the all-categories row's
                "additive": recipe.additive,
            }
        )
    return found


def _over(
    days: Days, span: Window | None, combine: Callable[[list[float]], float]
) -> tuple[float, date | None]:
    """``combine`` of the values of the days in ``span`` that are not missing (NaN when all
    are), and the last of those days."""
    inside = [
        (day, value)
        for day, value in days
        if span is None or (day is not None and span.start <= day <= span.end)
    ]
    values = [v for _, v in inside if not math.isnan(v)]
    last = max((d for d, _ in inside if d is not None), default=None)
    return (float(combine(values)) if values else math.nan), last
