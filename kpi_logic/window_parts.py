"""Any time window's actual from per-day parts, without a query, for the measures whose value
over a window follows from its days' values: a sum or a count (the days' values added), a
minimum or maximum (the days' smallest or largest), and a ratio of two sums or counts
(``avg(x)`` is ``sum(x) / count(x)``), each side added up over the window before dividing,
never an average of daily ratios.

The per-day parts are one aggregate (day grain, by category, the KPIs' own filters) that the
app computes once per dataset and category filter (:func:`daily_parts`) and keeps, so that
switching the window costs no query. Every other measure (a distinct count, a median, a sum
of several aggregates) over a new window is a query (:func:`kpi_logic.scorecard.window_actuals`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from kpi_logic import compute, expressions
from kpi_logic.compute import Record
from kpi_logic.expressions.parts import ratio_parts
from kpi_logic.model import KPI
from kpi_logic.windows import Window

ROWS = "count(*)"  # a part of every KPI: which categories have rows in a window
_SUMMED = ("sum", "count")
_COMBINE: dict[str, Callable[[list[float]], float]] = {"sum": sum, "min": min, "max": max}


@dataclass(frozen=True)
class Recipe:
    """How a KPI's window value follows from per-day values: ``combine`` (``sum``, ``min``,
    ``max`` or ``ratio``) over the parts named in ``parts`` (one, or numerator and
    denominator), and the part counting the KPI's rows."""

    combine: str
    parts: tuple[str, ...]
    rows: str
    additive: bool


Days = list[tuple[date | None, float]]  # (day, value) of one part and category, by day


@dataclass(frozen=True)
class DailyParts:
    """Each derivable KPI's recipe and the per-day values of every part by category
    (category None: all categories)."""

    recipes: dict[str, Recipe] = field(default_factory=dict)
    days: dict[tuple[str, str | None], Days] = field(default_factory=dict)


def recipe_of(kpi: KPI, columns: Sequence[str]) -> tuple[str, tuple[str, ...]] | None:
    """``(combine, part measures)`` of a KPI whose window value follows from per-day values,
    None for any other measure.

    >>> recipe_of(KPI("Margin", 'sum("p") / sum("s")'), ["p", "s"])
    ('ratio', ('sum("p")', 'sum("s")'))
    """
    simple = expressions.aggregate_of(kpi.measure, columns)
    if simple and simple[0] in _SUMMED:
        return "sum", (kpi.measure,)
    if simple and simple[0] in _COMBINE:
        return simple[0], (kpi.measure,)
    ratio = ratio_parts(kpi.measure, columns)
    if ratio is None:
        return None
    sides = [expressions.aggregate_of(side, columns) for side in ratio]
    if all(side and side[0] in _SUMMED for side in sides):
        return "ratio", ratio
    return None


def daily_parts(
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
            combine, measures = found
            recipes[kpi.name] = Recipe(
                combine,
                tuple(part(kpi, m) for m in measures),
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
        (c for name, c in daily.days if name == recipe.rows), key=lambda c: (c is not None, c or "")
    )
    found: list[Record] = []
    for category in categories:
        rows, last = _over(daily.days[recipe.rows, category], span, sum)
        if not rows > 0:
            continue
        values = [
            _over(daily.days.get((p, category), []), span, _pick(recipe))[0] for p in recipe.parts
        ]
        if recipe.combine == "ratio":
            actual = values[0] / values[1] if values[1] else math.nan
        else:
            actual = values[0]
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


def _pick(recipe: Recipe) -> Callable[[list[float]], float]:
    return _COMBINE["sum" if recipe.combine == "ratio" else recipe.combine]


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
