"""Display formats (``kpi_logic.formats``): values in a KPI's unit with thousands separators,
the KPI set's currency symbol and its default, printf formats for Streamlit's widgets, slider
scales tied to a target's magnitude, and dates without a time of day."""

from __future__ import annotations

import locale
import math
from datetime import date, datetime

import duckdb
import pandas as pd
import pytest

from kpi_logic import formats, kpi_file, tables
from kpi_logic.errors import KPIDefinitionError


@pytest.fixture(autouse=True)
def no_locale_currency(monkeypatch: pytest.MonkeyPatch) -> None:
    """The C locale's conventions (no currency symbol), whatever the machine's locale."""
    conventions = dict(locale.localeconv())
    conventions["currency_symbol"] = ""
    monkeypatch.setattr(locale, "localeconv", lambda: conventions)


@pytest.mark.parametrize(
    ("value", "unit", "currency", "expected"),
    [
        (4_000_000, "currency", "", "$4,000,000"),
        (4_000_000.4, "currency", "€", "€4,000,000"),
        (-1234.5, "currency", "CHF", "-CHF1,234"),  # whole from 100 on: 1234.5 rounds to even
        (87.694, "currency", "£", "£87.69"),
        (0.15, "percent", "", "15.0%"),
        (1.2346, "percent", "", "123.5%"),
        (1_234_567.0, "number", "", "1,234,567"),
        (4.2, "number", "", "4.2"),
        (0.0, "number", "", "0"),
        (None, "currency", "", "—"),
        (math.nan, "percent", "", "—"),
        (math.inf, "number", "", "—"),
    ],
)
def test_format_exact(value, unit, currency, expected) -> None:
    assert formats.format_exact(value, unit, currency=currency) == expected


def test_card_format_takes_the_kpi_sets_currency() -> None:
    assert formats.format_value(1_234_567, "currency", currency="€") == "€1.2M"
    assert formats.format_value(-2500, "currency", signed=True, currency="€") == "-€2,500"
    assert formats.format_value(2500, "currency", signed=True) == "+$2,500"


def test_share_is_rounded_as_on_the_cards() -> None:
    assert formats.format_share(0.8642) == "86%"
    assert formats.format_share(1.0) == "100%"
    assert formats.format_share(None) == formats.format_share(math.nan) == "—"


def test_default_currency_comes_from_the_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    assert formats.default_currency() == "$"  # the C locale has none
    assert formats.symbol("") == "$"
    assert formats.symbol("€") == "€"
    conventions = dict(locale.localeconv())
    conventions["currency_symbol"] = "kr"
    monkeypatch.setattr(locale, "localeconv", lambda: conventions)
    assert formats.default_currency() == "kr"
    assert formats.format_exact(1500, "currency") == "kr1,500"


@pytest.mark.parametrize(
    ("text", "problem"),
    [("€", None), ("R$", None), ("CHF", None), ("", "is empty"), ("EURO1", "longer")],
)
def test_currency_symbols_that_are_refused(text: str, problem: str | None) -> None:
    found = formats.currency_problem(text)
    assert (found is None) if problem is None else problem in (found or "")


@pytest.mark.parametrize("text", ["$ ", "%", "[x]", "1$", "a\nb", '"'])
def test_currency_symbols_with_markup_or_format_characters_are_refused(text: str) -> None:
    assert formats.currency_problem(text) is not None


def test_the_kpi_file_carries_the_currency_of_the_set() -> None:
    text = (
        "currency: €\n"
        "kpis:\n"
        "  - {name: Sales, measure: sum(x), unit: currency}\n"
        "  - {name: Orders, measure: count(*)}\n"
    )
    kpis = kpi_file.kpis_from_yaml(text)
    assert [k.currency for k in kpis] == ["€", "€"]
    written = kpi_file.kpis_to_yaml(kpis)
    assert written.startswith("currency: €\n")
    assert kpi_file.kpis_from_yaml(written) == kpis
    plain = kpi_file.kpis_from_yaml("kpis:\n  - {name: Sales, measure: sum(x)}\n")
    assert plain[0].currency == ""
    assert "currency" not in kpi_file.kpis_to_yaml(plain)


def test_a_bad_currency_in_the_kpi_file_is_refused_in_words() -> None:
    with pytest.raises(KPIDefinitionError, match="currency .* longer than 4 characters"):
        kpi_file.kpis_from_yaml("currency: Dollars\nkpis:\n  - {name: S, measure: sum(x)}\n")


@pytest.mark.parametrize(
    ("unit", "step", "currency", "expected"),
    [
        ("currency", 50_000, "", "$%,.0f"),
        ("currency", 0.5, "€", "€%,.1f"),
        ("number", 0.02, "", "%,.2f"),
        ("number", 1000, "", "%,.0f"),
        ("percent", 0.002, "", "percent"),
    ],
)
def test_printf_formats_for_streamlit(unit, step, currency, expected) -> None:
    assert formats.printf_format(unit, step, currency=currency) == expected


def test_a_percent_sign_as_a_symbol_cannot_break_a_printf_format() -> None:
    assert formats.printf_format("currency", 1, currency="%") == "%%%,.0f"


@pytest.mark.parametrize("target", [50_000.0, 4_000_000.0, 0.15, 12.0, 873_421.0])
def test_a_slider_is_tied_to_the_targets_magnitude(target: float) -> None:
    scale = formats.slider_scale(target, target, "currency")
    assert scale.low <= target * 0.5 + scale.step
    assert scale.high >= target * 1.5 - scale.step
    assert scale.low <= target <= scale.high
    positions = (scale.high - scale.low) / scale.step
    assert 50 <= positions <= 250
    mantissa = scale.step / 10 ** math.floor(math.log10(scale.step))
    assert round(mantissa, 6) in (1.0, 2.0, 5.0)  # a nice step
    # a drag over a tenth of the slider (25 px of a 250 px slider) moves the target by at
    # most 10% of the range: 50,000 can never jump to 98,000
    assert (scale.high - scale.low) / 10 <= target * 0.11


def test_fifty_thousand_moves_in_steps_of_five_hundred() -> None:
    assert formats.slider_scale(50_000, 50_000, "currency") == (25_000.0, 75_000.0, 500.0)


def test_a_slider_widens_to_hold_the_current_value() -> None:
    scale = formats.slider_scale(50_000, 180_000, "number")
    assert scale.high >= 180_000
    assert scale.low == 25_000
    scale = formats.slider_scale(50_000, 3_000, "number")
    assert scale.low <= 3_000


def test_a_slider_without_an_anchor() -> None:
    assert formats.slider_scale(None, None, "percent") == (0.0, 1.0, 0.01)
    assert formats.slider_scale(0.0, None, "number") == (0.0, 100.0, 1.0)


def test_preview_shows_dates_without_midnight() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT DATE '2016-11-08' + i::INT AS day, "
        "TIMESTAMP '2016-11-08 00:00:00' + INTERVAL (i) HOUR AS moment, "
        "CASE WHEN i = 1 THEN NULL ELSE TIMESTAMP '2016-11-08' END AS sometimes, i "
        "FROM range(3) r(i)"
    )
    frame = tables.preview(con, "t", 10)
    assert frame["day"].tolist() == [date(2016, 11, 8), date(2016, 11, 9), date(2016, 11, 10)]
    assert frame["sometimes"].tolist() == [date(2016, 11, 8), None, date(2016, 11, 8)]
    assert frame["moment"].tolist()[1] == pd.Timestamp(datetime(2016, 11, 8, 1))  # has a time
    assert frame["i"].tolist() == [0, 1, 2]
