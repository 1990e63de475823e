"""How numbers are shown, in a KPI's unit (``currency``, ``percent``, ``number``): the one
home of display formats for cards, charts, sliders, grids and the Review table.

A KPI set has a currency symbol (``currency`` in the KPI file); an empty one means the
default: the locale's symbol when the locale sets one, else ``$`` (:func:`symbol`).

>>> format_value(1_234_567, "currency")
'$1.2M'
>>> format_exact(1_234_567, "currency", currency="€"), format_exact(0.15, "percent")
('€1,234,567', '15.0%')
"""

from __future__ import annotations

import locale
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import pandas as pd

MISSING = "—"  # what a missing value reads as, everywhere
MAX_CURRENCY_CHARS = 4  # "$", "€", "CHF", "R$"...
_NOT_IN_A_SYMBOL = set("%\"'\\`<>[]{}()*_|#")  # would be read as format, markup or code


def default_currency() -> str:
    """The locale's currency symbol when the locale sets one (``LC_MONETARY``), else ``$``."""
    found = str(locale.localeconv().get("currency_symbol") or "").strip()
    return found if currency_problem(found) is None else "$"


def symbol(currency: str = "") -> str:
    """The symbol shown for a KPI set's ``currency`` (empty: :func:`default_currency`)."""
    return currency or default_currency()


def currency_problem(text: str) -> str | None:
    """Why ``text`` cannot be a currency symbol (None when it can: 1 to 4 characters, no
    spaces, digits, control characters or characters that markup or formats read)."""
    if not text:
        return "is empty"
    if len(text) > MAX_CURRENCY_CHARS:
        return f"is longer than {MAX_CURRENCY_CHARS} characters"
    bad = [c for c in text if c.isspace() or c.isdigit() or not c.isprintable()]
    bad += [c for c in text if c in _NOT_IN_A_SYMBOL]
    return None if not bad else f"may not hold {bad[0]!r}"


def number_format(unit: str) -> str:
    """d3 format of a value of ``unit`` on an axis: ``",.0f"``, ``".0%"`` or ``",.2~f"``
    (a currency's symbol is added by the chart, see ``charts``)."""
    return {"currency": ",.0f", "percent": ".0%"}.get(unit, ",.2~f")


def format_value(
    value: float | None, unit: str, *, signed: bool = False, currency: str = ""
) -> str:
    """A value for a card: ``$1.2M``, ``12.5%``, ``1,234``, ``4.21``; missing is ``—``.

    ``signed`` puts ``+`` before positive values (for a change; a change of a percent is in
    percentage points, ``+1.2 pp``). Negative values start with ``-``, as ``st.metric``
    expects of a delta. ``currency``: the KPI set's symbol (see :func:`symbol`).

    >>> format_value(0.125, "percent"), format_value(-2500, "currency", signed=True)
    ('12.5%', '-$2,500')
    """
    if value is None or not math.isfinite(value):
        return MISSING
    sign = "-" if value < 0 else "+" if signed and value > 0 else ""
    size = abs(value)
    if unit == "percent":
        return f"{sign}{size * 100:.1f}{' pp' if signed else '%'}"
    text = _compact(size)
    return f"{sign}{symbol(currency)}{text}" if unit == "currency" else f"{sign}{text}"


def _compact(size: float) -> str:
    """``1234 -> 1,234``, ``12345 -> 12.3K``, ``1.2e6 -> 1.2M``, ``4.214 -> 4.21``."""
    for limit, suffix in ((1e9, "B"), (1e6, "M")):
        if round(size / limit, 1) >= 1:  # 999,999 is 1.0M, not 1000.0K
            return f"{size / limit:.1f}{suffix}"
    if size >= 1e4:
        return f"{size / 1e3:.1f}K"
    return _plain(size)


def _plain(size: float) -> str:
    """``1234.5 -> 1,235``, ``4.214 -> 4.21``, ``0.5 -> 0.5``: whole from 100 on."""
    return f"{size:,.0f}" if size >= 100 else f"{size:,.2f}".rstrip("0").rstrip(".")


def format_exact(value: float | None, unit: str, *, currency: str = "") -> str:
    """A value in full with thousands separators (tooltips, grids, labels):
    ``$1,234,567``, ``15.0%``, ``1,234,567``, ``4.21``; missing is ``—``.

    >>> format_exact(-4_000_000.4, "number"), format_exact(None, "percent")
    ('-4,000,000', '—')
    """
    if value is None or not math.isfinite(value):
        return MISSING
    sign = "-" if value < 0 else ""
    if unit == "percent":
        return f"{sign}{abs(value) * 100:,.1f}%"
    text = _plain(abs(value))
    return f"{sign}{symbol(currency)}{text}" if unit == "currency" else f"{sign}{text}"


def format_share(value: float | None) -> str:
    """An attainment or another share as the cards show it: ``86%``; missing is ``—``."""
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{value:.0%}"


def texts(values: Iterable[float | None], unit: str, *, currency: str = "") -> list[str]:
    """:func:`format_exact` of each value (a chart's tooltip column)."""
    return [format_exact(v, unit, currency=currency) for v in values]


def printf_format(unit: str, step: float, *, currency: str = "") -> str:
    """The printf-style format (Streamlit's sliders and grid columns; ``,`` separates
    thousands) of values of ``unit`` moved by ``step``: ``€%,.0f``, ``%,.2f``; a percent's
    is Streamlit's ``percent``.

    >>> printf_format("currency", 500, currency="€"), printf_format("number", 0.05)
    ('€%,.0f', '%,.2f')
    """
    if unit == "percent":
        return "percent"
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 2
    text = f"%,.{min(decimals, 6)}f"
    return f"{symbol(currency).replace('%', '%%')}{text}" if unit == "currency" else text


class SliderScale(NamedTuple):
    """Where a target's slider starts and ends and how far one position moves it."""

    low: float
    high: float
    step: float


def nice_step(span: float, positions: int = 100) -> float:
    """The 1, 2 or 5 times a power of ten nearest above ``span / positions``.

    >>> nice_step(50_000), nice_step(0.15), nice_step(0)
    (500.0, 0.002, 1.0)
    """
    if not span > 0 or not math.isfinite(span):
        return 1.0
    raw = span / positions
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power * (1 + 1e-9):
            return float(round(factor * power, 12))
    return float(round(10 * power, 12))  # pragma: no cover - the loop always returns


def slider_scale(anchor: float | None, value: float | None, unit: str) -> SliderScale:
    """A target slider tied to the target's magnitude: from half to one and a half times
    ``anchor`` (the saved target, or the actual when there is none) in about 100 nice
    steps, widened to hold ``value`` (what the target is now); without an anchor, 0 to 1
    for a percent and 0 to 100 otherwise.

    >>> slider_scale(50_000, 50_000, "currency")
    SliderScale(low=25000.0, high=75000.0, step=500.0)
    """
    centre = abs(anchor) if anchor is not None and math.isfinite(anchor) and anchor else None
    if centre is None:
        top = 1.0 if unit == "percent" else 100.0
        low, high, step = 0.0, top, nice_step(top)
    else:
        step = nice_step(centre)
        low = math.floor(centre * 0.5 / step) * step
        high = math.ceil(centre * 1.5 / step) * step
    if value is not None and math.isfinite(value):
        low, high = min(low, math.floor(value / step) * step), max(high, value)
    return SliderScale(float(round(max(low, 0.0), 12)), float(round(high, 12)), step)


def dates_as_days(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each datetime column whose values all fall at midnight as plain dates
    (shown ``2016-11-08``, not ``2016-11-08 00:00:00``); other columns as they are."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype.kind != "M" or getattr(values.dt, "tz", None) is not None:
            continue
        known = values.dropna()
        if (known == known.dt.normalize()).all():
            out[column] = [None if v is None or v != v else v.date() for v in values]
    return out
