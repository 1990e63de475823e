"""The KPI editor's rules alone (no widgets): values to a KPI with an error per field, a KPI
to values, defaults from the data, column roles."""

from __future__ import annotations

import dataclasses
import random
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from kpi_logic import compute
from kpi_logic.column_roles import builder_defaults
from kpi_logic.errors import KPIExplorerError
from kpi_logic.kpi_file import kpis_from_yaml
from kpi_logic.kpi_form import (
    FormValues,
    check_form,
    column_roles,
    form_values,
    kpi_from_form,
    latest_total,
    new_form,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sample_columns() -> dict[str, str]:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE s AS SELECT * FROM read_csv(?)", [str(ROOT / "data" / "sample_sales.csv")]
    )
    return compute.table_columns(con, "s")


def test_every_sample_kpi_survives_the_form_unchanged(sample_columns: dict[str, str]) -> None:
    for kpi in kpis_from_yaml((ROOT / "data" / "sample_kpis.yaml").read_text()):
        assert kpi_from_form(form_values(kpi, sample_columns), sample_columns, kpi) == kpi


def test_a_new_kpi_from_column_and_aggregation(sample_columns: dict[str, str]) -> None:
    values = FormValues(
        name="  Orders  ",
        aggregation="count_distinct",
        column="Orders",
        filter=" \"Channel\" <> 'Partner' ",
        time="date",  # spelled loosely: the table's spelling comes back
        by="region",
        target=120.0,
    )
    kpi = kpi_from_form(values, sample_columns)
    assert (kpi.name, kpi.measure, kpi.filter) == (
        "Orders",
        'count_distinct("Orders")',
        "\"Channel\" <> 'Partner'",
    )
    assert (kpi.time, kpi.by) == ("Date", "Region")
    assert kpi.target.total == 120.0
    assert kpi.target.default is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (FormValues(name=" ", column="Revenue"), "Give the KPI a name"),
        (FormValues(name="X"), "Pick the column"),
        (FormValues(name="X", expression='sum("Revenu")'), 'did you mean "Revenue"'),
        (FormValues(name="X", column="Revenue", time="Region"), "not dates"),
        (FormValues(name="X", column="Revenue", target=-1.0), "below zero"),
    ],
)
def test_what_is_wrong_is_said(
    sample_columns: dict[str, str], values: FormValues, message: str
) -> None:
    with pytest.raises(KPIExplorerError, match=message):
        kpi_from_form(values, sample_columns)


def test_column_roles_follow_the_types() -> None:
    roles = column_roles(
        {
            "d": "DATE",
            "ts": "TIMESTAMP",
            "n": "DOUBLE",
            "i": "BIGINT",
            "u": "UINTEGER",
            "t": "VARCHAR",
        }
    )
    assert (roles.dates, roles.numbers, roles.others) == (["d", "ts"], ["n", "i", "u"], ["t"])


def test_check_form_says_what_is_wrong_field_by_field(sample_columns: dict[str, str]) -> None:
    values = FormValues(
        name="Revenue",
        expression='sum("Revenu")',
        filter="\"Regio\" = 'North'",
        time="Region",
        by="Regions",
        target=-3.0,
    )
    check = check_form(values, sample_columns, taken={"Revenue"})
    assert check.kpi is None
    assert check.draft is None
    assert set(check.errors) == {"name", "measure", "filter", "time", "by", "target"}
    assert "already exists" in check.errors["name"]
    assert 'did you mean "Revenue"' in check.errors["measure"]
    assert 'did you mean "Region"' in check.errors["filter"]
    assert "not dates" in check.errors["time"]
    assert "below zero" in check.errors["target"]
    # a nameless form still has a draft to preview; a named one is the KPI to save
    fixed = FormValues(name="", column="Revenue", time="Date", by="Region", target=5.0)
    check = check_form(fixed, sample_columns)
    assert list(check.errors) == ["name"]
    assert check.draft is not None
    assert check.draft.measure == 'sum("Revenue")'
    named = check_form(dataclasses.replace(fixed, name="Sales"), sample_columns)
    assert named.errors == {}
    assert named.kpi == dataclasses.replace(named.draft, name="Sales")


def messy_table(con: duckdb.DuckDBPyConnection, rows: int) -> None:
    """Identifiers first (a row number, a postal code, an order number), then the measure;
    a date, a category of 4 values and a customer of many, like an export; seeded."""
    rng = random.Random(5)
    con.execute(
        'CREATE TABLE t ("Row ID" BIGINT, "Postal Code" BIGINT, "Order No" BIGINT, '
        '"Ship Date" DATE, "Order Date" DATE, "Customer" VARCHAR, "Region" VARCHAR, '
        '"Sales" DOUBLE, "Discount" DOUBLE)'
    )
    regions = ["North", "South", "East", "West"]
    con.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                i + 1,
                rng.randrange(10_000, 99_999),
                900_000 + i,
                date(2024, 1, 1) + timedelta(days=i % 300 + 3) if i % 5 else None,
                date(2024, 1, 1) + timedelta(days=i % 300),
                f"C{rng.randrange(500)}",
                regions[i % 4],
                round(rng.uniform(5, 500), 2),
                rng.choice([0.0, 0.1, 0.25]),
            ]
            for i in range(rows)
        ],
    )


def test_defaults_skip_identifiers_and_pick_a_date_and_a_category() -> None:
    con = duckdb.connect()
    messy_table(con, 400)
    columns = compute.table_columns(con, "t")
    defaults = builder_defaults(con, "t", columns)
    assert (defaults.column, defaults.ratio) == ("Sales", False)
    assert defaults.time == "Order Date"  # filled on every row, unlike the ship date
    assert defaults.by == "Region"  # 4 values; Customer has hundreds
    assert defaults.filter_example == "\"Region\" <> 'East'"  # a value it holds
    values = new_form(defaults, columns)
    assert values == FormValues(
        name="", aggregation="sum", column="Sales", time="Order Date", by="Region"
    )
    kpi = check_form(dataclasses.replace(values, name="Sales"), columns).kpi
    assert kpi is not None
    rows = con.execute('SELECT "Order Date", "Sales" FROM t').fetchall()  # then plain Python
    month = max((d.year, d.month) for d, _ in rows)
    expected = sum(v for d, v in rows if (d.year, d.month) == month)
    latest = latest_total(compute.aggregate_records(con, "t", [kpi]))
    assert latest is not None
    assert latest["actual"] == pytest.approx(expected)
    # an empty table (a live table's local copy) still gets defaults from the types
    con.execute("CREATE TABLE e AS SELECT * FROM t LIMIT 0")
    empty = builder_defaults(con, "e", columns)
    assert (empty.column, empty.time, empty.by) == ("Sales", "Ship Date", None)
    assert empty.filter_example == '"Sales" > 0'


def test_a_table_of_identifiers_only_counts_rows() -> None:
    con = duckdb.connect()
    con.execute('CREATE TABLE ids AS SELECT range AS "Order ID", range % 7 AS "Zip" FROM range(50)')
    columns = compute.table_columns(con, "ids")
    defaults = builder_defaults(con, "ids", columns)
    assert defaults.column is None
    values = new_form(defaults, columns)
    assert (values.aggregation, values.column) == ("count", "Order ID")
