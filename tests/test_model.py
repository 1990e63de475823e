"""KPI model: YAML in and out, target lookup, validation messages, definition keys."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from kpi_logic.errors import KPIDefinitionError
from kpi_logic.kpi_file import kpis_from_yaml, kpis_to_yaml
from kpi_logic.model import KPI, Bands, Target, definition_key, period_start, validate

DESIGN_EXAMPLE = """
kpis:
  - name: Sales                      # unique
    type: financial                  # one of the KPI types above
    owner: Regional managers         # who answers for it
    measure: sum("Sales")            # aggregates over columns, see below
    filter: "Segment <> 'Home Office'"   # optional row filter
    time: Order Date                 # date column; optional
    grain: year                      # day | week | month | quarter | year
    by: Region                       # optional category column
    direction: higher                # higher (default) | lower is better
    target: 700000                   # per period; or per category:
    # target: {default: 500000, by: {West: 800000, East: 700000}}
    bands: {good: 1.0, warning: 0.9} # attainment cut-offs for on target / at risk / off target
    due: 2017-12-31                  # optional deadline
"""

FULL = """
kpis:
  - name: Margin
    type: quality & compliance
    unit: percent
    description: "Profit: share of revenue"
    measure: sum("Profit") / sum("Revenue")
    time: Day
    grain: quarter
    by: Region
    direction: lower
    target:
      default: 0.2
      by: {West: 0.25, "2017": 0.1}
      periods: {2017-01-01: 0.15}
      by_period: {East: {2017-04-01: 0.3, 2017-07-01: 0.31}}
      total: 0.22
    bands: {good: 0.95, warning: 0.8}
  - name: Orders
    measure: count(*)
"""


def test_design_example_loads() -> None:
    [kpi] = kpis_from_yaml(DESIGN_EXAMPLE)
    assert kpi == KPI(
        name="Sales",
        measure='sum("Sales")',
        owner="Regional managers",
        filter="Segment <> 'Home Office'",
        time="Order Date",
        grain="year",
        by="Region",
        target=Target(default=700000),
        due=date(2017, 12, 31),
    )


@pytest.mark.parametrize("text", [DESIGN_EXAMPLE, FULL])
def test_yaml_round_trip(text: str) -> None:
    kpis = kpis_from_yaml(text)
    assert kpis_from_yaml(kpis_to_yaml(kpis)) == kpis


def test_all_target_forms() -> None:
    margin = kpis_from_yaml(FULL)[0]
    assert margin.target == Target(
        default=0.2,
        by_category={"West": 0.25, "2017": 0.1},
        by_period={date(2017, 1, 1): 0.15},
        by_category_period={("East", date(2017, 4, 1)): 0.3, ("East", date(2017, 7, 1)): 0.31},
        total=0.22,
    )
    ratio = {"additive": False}
    assert margin.target_for("East", date(2017, 4, 1), **ratio) == 0.3  # category and period
    assert margin.target_for("West", date(2017, 1, 1), **ratio) == 0.25  # category's own
    # a per-period target of a KPI with "by" is the total's, not every category's
    assert margin.target_for("East", date(2017, 1, 1), **ratio) == 0.2  # default
    assert margin.target_for(None, date(2017, 1, 1), **ratio) == 0.15  # the total's period
    assert margin.target_for("North", date(2018, 1, 1), **ratio) == 0.2  # default
    assert margin.target_for(None, date(2017, 4, 1), **ratio) == 0.22  # all-categories: total
    only_default = dataclasses.replace(margin, target=Target(default=1))
    assert only_default.target_for(None, None, **ratio) == 1  # a ratio's common target
    assert only_default.target_for(None, None, additive=True) is None  # a sum's: its parts'
    assert KPI("x", "count(*)", target=Target(default=3)).target_for(None, None) == 3


def test_a_ratio_category_without_a_target_inherits_the_total() -> None:
    kpi = KPI("Margin", "sum(p) / sum(s)", time="d", by="r", target=Target(total=0.2))
    kpi = kpi.with_target(0.3, category="West").with_target(0.25, period=date(2024, 2, 1))
    assert kpi.target_for("East", date(2024, 1, 1), additive=False) == 0.2
    assert kpi.target_for("East", date(2024, 2, 1), additive=False) == 0.25
    assert kpi.target_for("West", date(2024, 2, 1), additive=False) == 0.3
    assert kpi.target_for("East", date(2024, 1, 1), additive=True) is None  # a sum does not


def test_a_target_from_a_date_on() -> None:
    text = (
        "kpis:\n  - name: Sales\n    measure: sum(x)\n    time: d\n"
        "    target: {default: 50000, from: {2025-07-01: 60000, 2026-01-01: 70000}}\n"
    )
    (kpi,) = kpis_from_yaml(text)
    assert [kpi.target_for(None, date(2025, m, 1)) for m in (6, 7, 12)] == [50000, 60000, 60000]
    assert kpi.target_for(None, date(2026, 3, 1)) == 70000
    assert kpis_from_yaml(kpis_to_yaml([kpi])) == [kpi]
    with pytest.raises(KPIDefinitionError, match="target from 2025-07-01"):
        kpis_from_yaml(text.replace("60000", "-1"))


def test_the_fiscal_year_start_is_the_kpi_sets() -> None:
    text = (
        "fiscal_year_start: 7\nkpis:\n"
        "  - {name: A, measure: count(*)}\n  - {name: B, measure: count(*)}\n"
    )
    kpis = kpis_from_yaml(text)
    assert [k.fiscal_year_start for k in kpis] == [7, 7]
    assert kpis_from_yaml(kpis_to_yaml(kpis)) == kpis
    assert "fiscal_year_start: 7" in kpis_to_yaml(kpis)
    with pytest.raises(KPIDefinitionError, match="fiscal year start"):
        kpis_from_yaml(text.replace(": 7", ": 13"))


def test_with_target_returns_changed_copies() -> None:
    kpi = KPI("Sales", 'sum("Sales")', time="Day", by="Region", target=Target(default=10))
    moved = kpi.with_target(20).with_target(30, category="West")
    moved = moved.with_target(40, period=date(2017, 1, 1))
    moved = moved.with_target(50, category="East", period=date(2017, 2, 1)).with_total_target(99)
    assert kpi.target == Target(default=10)
    assert moved.target == Target(
        default=20,
        by_category={"West": 30},
        by_period={date(2017, 1, 1): 40},
        by_category_period={("East", date(2017, 2, 1)): 50},
        total=99,
    )
    assert moved.with_target(None, category="West").target.by_category == {}
    assert kpi.with_bands(1.1, 0.5).bands == Bands(1.1, 0.5)


def test_definition_key_tracks_only_what_changes_the_aggregate() -> None:
    kpi = KPI("Sales", 'sum("Sales")', time="Day", by="Region")
    same = dataclasses.replace(kpi.with_target(5).with_bands(2, 1), owner="Ann", name="Other")
    assert definition_key(same) == definition_key(kpi)
    for change in (
        {"measure": 'avg("Sales")'},
        {"filter": "Sales > 0"},
        {"time": "Other"},
        {"grain": "year"},
        {"by": "Segment"},
    ):
        assert definition_key(dataclasses.replace(kpi, **change)) != definition_key(kpi)


def _one(body: str) -> list[KPI]:
    return kpis_from_yaml("kpis:\n  - name: Sales\n    measure: sum(x)\n" + body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "    grain: monthly\n",
            'KPI "Sales": grain "monthly" is not one of day, week, month, quarter, year',
        ),
        ("    type: finance\n", 'KPI "Sales": type "finance" is not one of financial'),
        ("    unit: euro\n", 'KPI "Sales": unit "euro" is not one of number, currency, percent'),
        ("    direction: up\n", 'KPI "Sales": direction "up" is not one of higher, lower'),
        ("    colour: red\n", 'KPI "Sales": unknown key "colour"'),
        ("    target: {default: 1, west: 2}\n", 'KPI "Sales": unknown target key "west"'),
        ("    bands: {good: 1, bad: 0}\n", 'KPI "Sales": unknown bands key "bad"'),
        ("    bands: {good: 0.8, warning: 0.9}\n", 'KPI "Sales": bands warning 0.9 is above good'),
        ("    bands: {good: 1, warning: -1}\n", 'KPI "Sales": bands warning -1 is below zero'),
        ("    target: lots\n", 'KPI "Sales": target "lots" is not a number'),
        ("    target: -5\n", 'KPI "Sales": target -5 is below zero'),
        ("    target: .nan\n", 'KPI "Sales": target "nan" is not a number'),
        ("    by: R\n    target: {by: {West: x}}\n", 'KPI "Sales": target for "West" "x" is'),
        ("    target: {by: {West: 1}}\n", 'KPI "Sales": targets per category need a category'),
        ("    target: {total: 1}\n", 'KPI "Sales": target "total" needs a category column'),
        ("    target: {periods: {2017-01-01: 1}}\n", 'KPI "Sales": targets per period need'),
        (
            "    time: Day\n    target: {periods: {2017-01-15: 1}}\n",
            'KPI "Sales": target for 2017-01-15: 2017-01-15 is not the first day of a month',
        ),
        (
            "    time: Day\n    grain: week\n    target: {periods: {2017-01-01: 1}}\n",
            "is not the Monday of a week",
        ),
        ("    by: R\n    target: {by: {yes: 1}}\n", 'KPI "Sales": target category True must be'),
        ("    due: soon\n", 'KPI "Sales": due "soon" is not a date like 2017-12-31'),
        ("    by: [a, b]\n", 'KPI "Sales": by must be text'),
    ],
)
def test_validation_names_kpi_key_and_problem(body: str, message: str) -> None:
    with pytest.raises(KPIDefinitionError) as err:
        _one(body)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kpis:\n  - name: A\n    measure: sum(x)\n  - name: A\n    measure: sum(y)\n", "Two KPIs"),
        ("kpis:\n  - measure: sum(x)\n", 'KPI number 1 needs a "name"'),
        ("kpis:\n  - name: A\n", 'KPI "A": needs a "measure"'),
        ("kpis:\n  - just text\n", "KPI number 1 must be a mapping"),
        ("kpis: {name: A}\n", "must hold a list"),
        ("metrics: []\n", 'unknown key "metrics"'),
        ("kpis:\n  - name: [unclosed\n", "not valid YAML (line"),
        ("kpis:\n  - name: A\n    measure: !!python/object:os.system x\n", "not valid YAML"),
    ],
)
def test_file_level_errors(text: str, message: str) -> None:
    with pytest.raises(KPIDefinitionError) as err:
        kpis_from_yaml(text)
    assert message in str(err.value)


def test_empty_file_is_no_kpis() -> None:
    assert kpis_from_yaml("") == []
    assert kpis_from_yaml("kpis:\n") == []


def test_validate_checks_built_kpis() -> None:
    with pytest.raises(KPIDefinitionError, match="needs a name"):
        validate(KPI(name=" ", measure="sum(x)"))
    kpi = KPI("A", "sum(x)", grain="decade")
    with pytest.raises(KPIDefinitionError, match='grain "decade"'):
        validate(kpi)


@pytest.mark.parametrize(
    ("grain", "expected"),
    [
        ("day", date(2017, 5, 17)),
        ("week", date(2017, 5, 15)),
        ("month", date(2017, 5, 1)),
        ("quarter", date(2017, 4, 1)),
        ("year", date(2017, 1, 1)),
    ],
)
def test_period_start(grain: str, expected: date) -> None:
    assert period_start(date(2017, 5, 17), grain) == expected
