"""Snapshots of the SQL the engine generates: the aggregate queries of a KPI set and the
conversions of messy text columns. A change to generated SQL shows up here as a diff to read,
not only as a changed number elsewhere. ``KPI_UPDATE_SNAPSHOTS=1`` rewrites the files after a
deliberate change; then read the diff before committing it."""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path

import pytest

from kpi_logic import compute
from kpi_logic.ingest_types import Params, conversion_sql, detect_type
from kpi_logic.kpi_file import kpis_from_yaml

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
COLUMNS = {
    "Order Date": "DATE",
    "Region": "VARCHAR",
    "Sales": "DOUBLE",
    "Profit": "DOUBLE",
    "Order ID": "VARCHAR",
    "Channel": "VARCHAR",
}
KPIS = kpis_from_yaml(
    """
kpis:
  - {name: Sales, measure: sum("Sales"), time: Order Date, grain: month, by: Region}
  - {name: Margin, measure: sum("Profit") / sum("Sales"), time: Order Date, grain: month,
     by: Region}
  - {name: Orders, measure: count_distinct("Order ID"), time: Order Date, grain: quarter,
     filter: "Channel <> 'Partner' and \\"Sales\\" between 10 and 1000"}
  - {name: Rows, measure: count(*)}
"""
)
TEXT_COLUMNS = {
    "currency": ["$1,234.50", "($12.00)", "$0.99"],
    "decimal_comma": ["1.234,50 €", "12,00 €", "0,99 €"],
    "percent": ["16%", "4.5%", "100%"],
    "us_dates": ["3/14/2024", "12/1/2023", "1/31/2024"],
    "iso_dates": ["2024-03-14", "2023-12-01", "2024-01-31"],
    "day_month_dates": ["14.03.2024", "01.12.2023", "31.01.2024"],
    "booleans": ["yes", "no", "Yes"],
}


def _normalized(sql: str) -> str:
    """The SQL with the per-process random prefix of helper columns made constant."""
    return re.sub(r"__kpi_[0-9a-f]{6}", "__kpi_H", sql)


def _check(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("KPI_UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {name}: run with KPI_UPDATE_SNAPSHOTS=1 and read it"
    assert text == path.read_text(encoding="utf-8")


def test_aggregate_sql_of_a_kpi_set() -> None:
    queries = compute.aggregate_sql(
        "orders",
        KPIS,
        COLUMNS,
        start=date(2024, 1, 1),
        end=date(2024, 12, 31),
        categories={"Region": ["West", "East"]},
    )
    text = "\n\n".join(
        f"-- params: {json.dumps(params, default=str)}\n{_normalized(sql)}"
        for sql, params in queries
    )
    _check("aggregate.sql", text + "\n")


@pytest.mark.parametrize("column", sorted(TEXT_COLUMNS))
def test_conversion_sql_of_messy_text_columns(column: str) -> None:
    kind = detect_type(TEXT_COLUMNS[column])
    params = Params()
    sql = conversion_sql('"raw"', kind, params)
    text = f"-- {kind.dtype} ({kind.detail})\n-- params: {json.dumps(params.values)}\n{sql}\n"
    _check(f"convert_{column}.sql", text)
