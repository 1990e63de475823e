"""The KPI form's rules alone (no widgets): values to a KPI, a KPI to values, column roles."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from kpi_logic import compute
from kpi_logic.errors import KPIExplorerError
from kpi_logic.kpi_file import kpis_from_yaml
from kpi_logic.kpi_form import FormValues, column_roles, form_values, kpi_from_form

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
