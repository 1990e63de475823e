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
    assert margin.target_for("East", date(2017, 4, 1)) == 0.3  # category and period
    assert margin.target_for("West", date(2017, 1, 1)) == 0.25  # category beats period
    assert margin.target_for("East", date(2017, 1, 1)) == 0.15  # period
    assert margin.target_for("North", date(2018, 1, 1)) == 0.2  # default
    assert margin.target_for(None, date(2017, 4, 1)) == 0.22  # all-categories row: total
    assert dataclasses.replace(margin, target=Target(default=1)).target_for(None, None) is None
    assert KPI("x", "count(*)", target=Target(default=3)).target_for(None, None) == 3


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
