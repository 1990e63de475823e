"""KPI definitions: the ``KPI``, ``Target`` and ``Bands`` dataclasses, validation, and the
cache key of a definition. KPI files (YAML in and out) are :mod:`kpi_logic.kpi_file`.

Targets: a default for every cell (which may change from a day on: ``default_from``), per
category, per period (the first day of a period), per category and period, and ``total``
(the all-categories row of a KPI with ``by``). The rules, one home (:meth:`KPI.target_for`):

- a KPI without ``by``: the period's target, else the default in force for the period;
- a category of a KPI with ``by``: its own for the period, its own, the default; a KPI whose
  parts do not add up (a ratio, an average, a distinct count) falls back to the total's;
- the all-categories row of a KPI with ``by``: the period's target (per-period targets of a
  KPI with ``by`` are the total's), else ``total``; a non-additive KPI without category
  targets of its own uses the default; an additive one without a total target is judged on
  the sum of its categories' targets (see :mod:`kpi_logic.score`).
- 0 is a target like any other (zero defects).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from kpi_logic import formats
from kpi_logic.errors import KPIDefinitionError

KPI_TYPES = (
    "financial",
    "operational",
    "sales",
    "marketing",
    "customer",
    "employee",
    "quality & compliance",
    "strategic",
)
GRAINS = ("day", "week", "month", "quarter", "year")
UNITS = ("number", "currency", "percent")
DIRECTIONS = ("higher", "lower")

_BAND_KEYS = ("good", "warning")


@dataclass(frozen=True)
class Bands:
    """Attainment cut-offs: ``>= good`` is on target, ``>= warning`` at risk, else off target."""

    good: float = 1.0
    warning: float = 0.9


@dataclass(frozen=True)
class Target:
    """Target values per cell; categories are text, periods are the first day of a period."""

    default: float | None = None
    by_category: dict[str, float] = field(default_factory=dict)
    by_period: dict[date, float] = field(default_factory=dict)
    by_category_period: dict[tuple[str, date], float] = field(default_factory=dict)
    total: float | None = None
    default_from: dict[date, float] = field(default_factory=dict)  # the default from a day on

    def default_at(self, period: date | None) -> float | None:
        """The default in force for the period starting on ``period``: the value of the latest
        ``default_from`` day on or before it, else ``default``.

        >>> Target(default=50, default_from={date(2025, 7, 1): 60}).default_at(date(2025, 8, 1))
        60
        """
        if period is not None:
            started = [day for day in self.default_from if day <= period]
            if started:
                return self.default_from[max(started)]
        return self.default

    def category_target(
        self, category: str, period: date | None, *, additive: bool
    ) -> float | None:
        """A category's target (see the module doc).

        >>> Target(default=5, by_category={"West": 8}).category_target("West", None, additive=True)
        8
        """
        found = self.by_category_period.get((category, period)) if period else None
        if found is None:
            found = self.by_category.get(category, self.default_at(period))
        if found is None and not additive:
            found = self.by_period.get(period, self.total) if period else self.total
        return found

    def total_target(self, period: date | None, *, additive: bool) -> float | None:
        """The all-categories row's own target (see the module doc); None for an additive KPI
        without one, whose total is then judged on the sum of its categories' targets."""
        found = self.by_period.get(period) if period else None
        if found is None:
            found = self.total
        if found is None and not additive and not (self.by_category or self.by_category_period):
            found = self.default_at(period)
        return found

    def with_value(
        self, value: float | None, *, category: str | None = None, period: date | None = None
    ) -> Target:
        """A copy with the most specific slot for ``category``/``period`` set (None removes it)."""
        if category is None and period is None:
            return dataclasses.replace(self, default=value)
        attr, key = {
            (True, True): ("by_category_period", (category, period)),
            (True, False): ("by_category", category),
            (False, True): ("by_period", period),
        }[(category is not None, period is not None)]
        values = dict(getattr(self, attr))
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
        changes: dict[str, Any] = {attr: values}  # the field named by attr
        return dataclasses.replace(self, **changes)

    def is_empty(self) -> bool:
        """True when no cell has a target."""
        return self == Target()


@dataclass(frozen=True)
class KPI:
    """A measure tied to a target, a direction, a deadline and an owner.

    Build freely (the UI starts from ``KPI(name="", measure="")``); :func:`validate` checks.
    """

    name: str
    measure: str
    type: str = "financial"
    owner: str = ""
    description: str = ""
    unit: str = "number"
    filter: str | None = None
    time: str | None = None
    grain: str = "month"
    by: str | None = None
    direction: str = "higher"
    target: Target = field(default_factory=Target)
    bands: Bands = field(default_factory=Bands)
    due: date | None = None
    fiscal_year_start: int = 1  # month the fiscal year starts in (of the KPI set)
    currency: str = ""  # the KPI set's currency symbol; empty: the locale's (formats.symbol)

    def target_for(
        self, category: str | None, period: date | None, *, additive: bool = True
    ) -> float | None:
        """Target of one result row (``category`` None on the total row of a KPI with ``by``;
        ``additive``: the measure's parts add up, see ``compute.is_additive``)."""
        if self.by is None:
            found = self.target.by_period.get(period) if period else None
            return self.target.default_at(period) if found is None else found
        if category is None:
            return self.target.total_target(period, additive=additive)
        return self.target.category_target(category, period, additive=additive)

    def with_target(
        self, value: float | None, *, category: str | None = None, period: date | None = None
    ) -> KPI:
        """A copy whose target for ``category``/``period`` (default when both None) is ``value``."""
        return dataclasses.replace(
            self, target=self.target.with_value(value, category=category, period=period)
        )

    def with_total_target(self, value: float | None) -> KPI:
        """A copy whose all-categories target is ``value``."""
        return dataclasses.replace(self, target=dataclasses.replace(self.target, total=value))

    def with_bands(self, good: float, warning: float) -> KPI:
        """A copy with other attainment cut-offs."""
        return dataclasses.replace(self, bands=Bands(good=good, warning=warning))


# --- validation ------------------------------------------------------------------------


def _fail(kpi: str, message: str) -> KPIDefinitionError:
    return KPIDefinitionError(f"KPI {_show(kpi)}: {message}")


def _show(value: object, limit: int = 60) -> str:
    """``value`` for a one-line message: quoted, on one line, cut after ``limit`` characters."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        digits = int((abs(value).bit_length() - 1) * math.log10(2))  # at most one too few
        while 10**digits <= abs(value):
            digits += 1
        return f"(a {digits}-digit number)"
    text = " ".join(str(value).split())
    return f'"{text[:limit]}…"' if len(text) > limit else f'"{text}"'


def period_start(day: date, grain: str) -> date:
    """First day of the ``grain`` period holding ``day`` (weeks start on Monday, as DuckDB)."""
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


def validate(kpi: KPI) -> KPI:
    """Check every field of ``kpi``; return it unchanged or raise ``KPIDefinitionError``.

    Messages name the KPI, the key and the problem, e.g.
    ``KPI "Sales": grain "monthly" is not one of day, week, month, quarter, year``.
    """
    name = kpi.name if isinstance(kpi.name, str) else str(kpi.name)
    if not isinstance(kpi.name, str) or not kpi.name.strip():
        raise KPIDefinitionError("Every KPI needs a name.")
    if not isinstance(kpi.measure, str) or not kpi.measure.strip():
        raise _fail(name, 'needs a "measure", e.g. sum("Sales")')
    for key, allowed in (
        ("type", KPI_TYPES),
        ("unit", UNITS),
        ("grain", GRAINS),
        ("direction", DIRECTIONS),
    ):
        value = getattr(kpi, key)
        if value not in allowed:
            raise _fail(name, f"{key} {_show(value)} is not one of {', '.join(allowed)}")
    for key in ("owner", "description"):
        if not isinstance(getattr(kpi, key), str):
            raise _fail(name, f"{key} must be text")
    for key in ("filter", "time", "by"):
        value = getattr(kpi, key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise _fail(name, f"{key} must be text (or left out)")
    if kpi.due is not None and (not isinstance(kpi.due, date) or isinstance(kpi.due, datetime)):
        raise _fail(name, f"due {_show(kpi.due)} is not a date like 2017-12-31")
    month = kpi.fiscal_year_start
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise _fail(name, f"fiscal year start {_show(month)} is not a month number 1-12")
    problem = None if kpi.currency == "" else formats.currency_problem(str(kpi.currency))
    if not isinstance(kpi.currency, str) or problem:
        raise _fail(name, f"currency {_show(kpi.currency)} {problem or 'must be text'}")
    _validate_target(kpi, name)
    _validate_bands(kpi.bands, name)
    return kpi


def is_valid_target(value: object) -> bool:
    """True for a usable target value: a finite number, zero or above."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        return False
    return math.isfinite(number) and number >= 0


def _check_number(kpi: str, where: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and math.isnan(value))
    ):
        raise _fail(kpi, f"{where} {_show(value)} is not a number")
    if abs(value) > sys.float_info.max:  # infinite, or an integer too large for a float
        raise _fail(kpi, f"{where} {_show(value)} is too large")
    if not is_valid_target(value):
        raise _fail(kpi, f"{where} {value:g} is below zero")


def _validate_target(kpi: KPI, name: str) -> None:
    target = kpi.target
    if not isinstance(target, Target):
        raise _fail(name, "target must be a number or a mapping")
    for key, value in (("target", target.default), ("target total", target.total)):
        if value is not None:
            _check_number(name, key, value)
    if target.total is not None and kpi.by is None:
        raise _fail(name, 'target "total" needs a category column ("by")')
    if (target.by_category or target.by_category_period) and kpi.by is None:
        raise _fail(name, 'targets per category need a category column ("by")')
    if (target.by_period or target.by_category_period or target.default_from) and kpi.time is None:
        raise _fail(name, 'targets per period need a date column ("time")')
    for day, value in target.default_from.items():
        _check_number(name, f"target from {day}", value)
    for category, value in target.by_category.items():
        _check_number(name, f"target for {_show(category)}", value)
    periods = [(p, v, f"target for {p}") for p, v in target.by_period.items()]
    periods += [
        (p, v, f"target for {_show(c)} in {p}") for (c, p), v in target.by_category_period.items()
    ]
    for period, value, where in periods:
        _check_number(name, where, value)
        if period_start(period, kpi.grain) != period:
            first = "Monday of a week" if kpi.grain == "week" else f"first day of a {kpi.grain}"
            raise _fail(name, f"{where}: {period} is not the {first}")


def _validate_bands(bands: Bands, name: str) -> None:
    for key in _BAND_KEYS:
        _check_number(name, f"bands {key}", getattr(bands, key))
    if bands.warning > bands.good:
        raise _fail(
            name,
            f"bands warning {bands.warning:g} is above good {bands.good:g}; "
            "warning is where at risk starts, good where on target starts",
        )


def definition_key(kpi: KPI) -> str:
    """Hash of what changes the aggregate (measure, filter, time, grain, by): a cache key."""
    parts = [kpi.measure, kpi.filter, kpi.time, kpi.grain, kpi.by]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]
