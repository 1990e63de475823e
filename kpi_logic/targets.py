"""Target overrides (what-if targets that are not saved yet) and the targets a view judges by.

An override is keyed by an :class:`OverrideKey`: the KPI and the cell it sets. Links write the
key as text (``share`` is the only codec):

- ``"Sales"``: the headline target (the all-categories total of a KPI with ``by``, else the
  target of every period);
- ``"Sales@West"``: one category's, ``"Sales@*"``: every category's (the default);
- ``"Sales|2024-12-01"``: one period's (the total's, for a KPI with ``by``);
- ``"Sales@West|2024-12-01"``: one category's in one period.

>>> key = OverrideKey.parse("Sales@West")
>>> (key.kpi, key.category, key.period, key.text)
('Sales', 'West', None, 'Sales@West')
>>> OverrideKey.parse(OverrideKey("Sales", period=date(2024, 12, 1)).text).period
datetime.date(2024, 12, 1)
>>> OverrideKey.parse("Sales@West|2024-12-01").category
'West'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from kpi_logic import compute, score, windows
from kpi_logic.compute import Record
from kpi_logic.model import KPI

CATEGORY_SEPARATOR = "@"
PERIOD_SEPARATOR = "|"
ALL_CATEGORIES = "*"
K = TypeVar("K", str, date)  # a category or a period


@dataclass(frozen=True)
class OverrideKey:
    """Which target an override sets: ``kpi``'s headline, one ``category`` (``"*"`` for every
    category), one ``period``, or one category in one period."""

    kpi: str
    category: str | None = None
    period: date | None = None

    @property
    def text(self) -> str:
        """The key as links write it: ``Sales``, ``Sales@West``, ``Sales|2024-12-01``,
        ``Sales@West|2024-12-01``."""
        text = self.kpi
        if self.category is not None:
            text += f"{CATEGORY_SEPARATOR}{self.category}"
        if self.period is not None:
            text += f"{PERIOD_SEPARATOR}{self.period.isoformat()}"
        return text

    @classmethod
    def parse(cls, key: str, kpi_names: Collection[str] = ()) -> OverrideKey:
        """Read a key; with ``kpi_names``, a KPI whose name holds ``@`` or ``|`` is recognised
        by its full name first. Raises ValueError on a period that is not an ISO date."""
        for name in sorted(kpi_names, key=len, reverse=True):
            if key == name:
                return cls(name)
            rest = key[len(name) :]
            if key.startswith(name) and rest[:1] in (CATEGORY_SEPARATOR, PERIOD_SEPARATOR):
                return cls._split(name, rest)
        cuts = [key.find(s) for s in (CATEGORY_SEPARATOR, PERIOD_SEPARATOR) if s in key]
        return cls._split(key[: min(cuts)], key[min(cuts) :]) if cuts else cls(key)

    @classmethod
    def _split(cls, name: str, rest: str) -> OverrideKey:
        if rest[0] == PERIOD_SEPARATOR:
            return cls(name, period=date.fromisoformat(rest[1:]))
        category, cut, day = rest[1:].rpartition(PERIOD_SEPARATOR)
        if cut and _is_iso_date(day):  # a category in a period ("|" may be in the category)
            return cls(name, category=category, period=date.fromisoformat(day))
        return cls(name, category=rest[1:])

    def named_in(self, kpi_names: Collection[str]) -> OverrideKey:
        """This key read again knowing the KPI names (a name may hold ``@`` or ``|``, which
        a link's text alone cannot tell apart from a category or a period)."""
        return self if self.kpi in kpi_names else OverrideKey.parse(self.text, kpi_names)


Overrides = Mapping[OverrideKey, float]


def _is_iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def without_targets_of(kpi: str, overrides: Overrides) -> dict[OverrideKey, float]:
    """``overrides`` less every key of ``kpi`` (its headline, category and period targets)."""
    return {key: value for key, value in overrides.items() if key.kpi != kpi}


def headline_target(kpi: KPI) -> float | None:
    """The target the card is judged against: the total for a KPI with ``by``, else default."""
    return kpi.target.total if kpi.by else kpi.target.default


def with_overrides(kpis: Sequence[KPI], overrides: Overrides) -> list[KPI]:
    """The KPIs with override targets applied; keys of other KPIs are left out."""
    names = [k.name for k in kpis]
    by_kpi: dict[str, list[tuple[OverrideKey, float]]] = {}
    for key, value in sorted(overrides.items(), key=lambda item: item[0].text):
        try:
            key = key.named_in(names)
        except ValueError:
            continue  # a damaged link: leave that part out
        by_kpi.setdefault(key.kpi, []).append((key, value))
    return [_apply(kpi, by_kpi.get(kpi.name, [])) for kpi in kpis]


def _apply(kpi: KPI, overrides: list[tuple[OverrideKey, float]]) -> KPI:
    for key, value in overrides:
        if key.period is not None:
            kpi = kpi.with_target(value, category=key.category, period=key.period)
        elif key.category == ALL_CATEGORIES:
            kpi = kpi.with_target(value)
        elif key.category is not None:
            kpi = kpi.with_target(value, category=key.category)
        else:
            kpi = kpi.with_total_target(value) if kpi.by else kpi.with_target(value)
    return kpi


def with_selected_totals(
    kpis: Sequence[KPI], filters: Mapping[str, Sequence[str]], columns: Sequence[str]
) -> list[KPI]:
    """With a filter on a KPI's own category column, its all-categories row covers only the
    picked categories: judge it against their targets by the rules of ``KPI.target_for``.
    A sum or a count drops its total's own targets, so its total is judged on the sum of the
    picked categories' targets; any other measure keeps each picked category's target and
    judges the total on their common one (none when they differ)."""
    result = []
    for kpi in kpis:
        picked = [str(c) for c in filters.get(kpi.by, [])] if kpi.by else []
        if not picked:
            result.append(kpi)
            continue
        target = dataclasses.replace(kpi.target, total=None, by_period={})
        if not compute.is_additive(kpi.measure, columns):
            own = {c: kpi.target.category_target(c, None, additive=False) for c in picked}
            kept = {c: v for c, v in own.items() if v is not None}
            common = set(own.values())
            target = dataclasses.replace(
                target,
                by_category={**kpi.target.by_category, **kept},
                total=common.pop() if len(common) == 1 else None,
            )
        result.append(dataclasses.replace(kpi, target=target))
    return result


def allocate(
    total: float, keys: Sequence[K], weights: Mapping[K, float] | None = None
) -> dict[K, float]:
    """``total`` split over ``keys`` so the parts add up to it: evenly, or in proportion to
    ``weights`` (a missing or negative weight counts 0; evenly when they add up to nothing).

    >>> allocate(90.0, ["East", "West", "North"])
    {'East': 30.0, 'West': 30.0, 'North': 30.0}
    >>> allocate(100.0, ["East", "West"], {"East": 3.0, "West": 1.0})
    {'East': 75.0, 'West': 25.0}
    """
    shares = [max((weights or {}).get(key, 0.0), 0.0) for key in keys]
    if not sum(shares):
        shares = [1.0] * len(keys)
    return {key: total * share / sum(shares) for key, share in zip(keys, shares, strict=True)}


def last_year(latest: date, fiscal_year_start: int) -> windows.Window:
    """The whole fiscal year before the one holding ``latest`` (the allocations' reference)."""
    year = windows.window("ytd", latest, fiscal_year_start=fiscal_year_start).last_year()
    return windows.Window("range", year.start, year.full_end, year.full_end)


def split_total(
    kpi: KPI, total: float, records: Sequence[Record], *, by_last_year: bool
) -> dict[OverrideKey, float]:
    """What-if targets giving each category of ``kpi`` (an additive KPI with ``by``) a part of
    ``total`` per period, evenly or by its share of last fiscal year's actual (``records``: the
    KPI's scored records), the total itself included."""
    cells = [r for r in records if r["kpi"] == kpi.name and r["category"] is not None]
    categories = sorted({str(r["category"]) for r in cells})
    weights: dict[str, float] | None = None
    periods = [r["period"] for r in cells if r["period"] is not None]
    if by_last_year and periods:
        year = last_year(max(periods), kpi.fiscal_year_start)
        weights = {}
        for r in cells:
            if r["period"] is not None and year.start <= r["period"] <= year.end:
                weights[r["category"]] = weights.get(r["category"], 0.0) + _value(r["actual"])
    parts = allocate(total, categories, weights)
    return {
        OverrideKey(kpi.name): total,
        **{OverrideKey(kpi.name, category=c): value for c, value in parts.items()},
    }


def spread_year(
    kpi: KPI, yearly: float, records: Sequence[Record], *, by_last_year: bool
) -> dict[OverrideKey, float]:
    """What-if per-period targets (the total's, for a KPI with ``by``) spreading ``yearly``
    over the periods of the fiscal year holding the latest period, evenly or by last year's
    seasonal profile (each period's share of the same period a year earlier)."""
    totals = {
        r["period"]: r["actual"] for r in records if r["kpi"] == kpi.name and r["category"] is None
    }
    known = [p for p in totals if p is not None]
    if not known:
        return {}
    year = windows.window("ytd", max(known), fiscal_year_start=kpi.fiscal_year_start)
    periods = [p for p, _ in windows.periods_in(kpi, year.start, year.full_end)]
    weights = None
    if by_last_year:
        weights = {p: _value(totals.get(windows.year_before(p))) for p in periods}
    return {
        OverrideKey(kpi.name, period=p): v for p, v in allocate(yearly, periods, weights).items()
    }


def _value(actual: object) -> float:
    """An actual as a weight: 0 when missing."""
    return 0.0 if score.is_missing(actual) else float(actual)  # type: ignore[arg-type]


def describe_changes(before: list[KPI], after: list[KPI]) -> str:
    """A history line such as ``Sales: target 500,000 → 650,000; West 80,000 → 90,000``."""
    parts = []
    for old, new in zip(before, after, strict=True):
        if old == new:
            continue
        changes = []
        for label, a, b in (
            ("total", old.target.total, new.target.total),
            ("target", old.target.default, new.target.default),
        ):
            if a != b:
                changes.append(f"{label} {_number(a)} → {_number(b)}")
        changes += _changed_cells(old.target.by_category, new.target.by_category)
        changes += _changed_cells(old.target.by_period, new.target.by_period)
        if old.bands != new.bands:
            changes.append(
                f"bands {old.bands.warning:g}/{old.bands.good:g} → "
                f"{new.bands.warning:g}/{new.bands.good:g}"
            )
        parts.append(f"{new.name}: " + ", ".join(changes))
    return "; ".join(parts) or "Targets saved"


def _changed_cells(before: Mapping[K, float], after: Mapping[K, float]) -> list[str]:
    """``West 80,000 → 90,000`` for each category (or period: a date prints as 2024-12-01)
    whose target changed, in order."""
    return [
        f"{key} {_number(before.get(key))} → {_number(after.get(key))}"
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def _number(value: float | None) -> str:
    if value is None:
        return "none"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def judged_on_a_part(kpis: Sequence[KPI], filtered_columns: Collection[str]) -> list[str]:
    """The KPIs whose totals a filter on other columns than their own category cuts to a part
    of the rows while their targets stay set for the whole (worth a word on the page).

    >>> sales = KPI(name="Sales", measure='sum("x")', by="Region")
    >>> judged_on_a_part([sales], ["Region"]), judged_on_a_part([sales], ["Channel"])
    ([], ['Sales'])
    """
    return [k.name for k in kpis if any(c != k.by for c in filtered_columns)]
