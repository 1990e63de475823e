"""``evaluate URL --table NAME``: a live PostgreSQL table and Spark over Parquet files give the
same output as ``evaluate`` of the same rows exported to a file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from kpi_logic import cli
from tests import engine_data as data
from tests.test_cli import one_line_error, run

ROWS = data.orders(400, seed=7)
KPI_FILE = """
kpis:
  - {name: Sales, measure: sum("Sales"), time: Order Date, grain: month, by: Region,
     target: {default: 5000, by: {West: 8000}}}
  - {name: Margin, unit: percent, measure: sum("Profit") / sum("Sales"), time: Order Date,
     grain: quarter, target: 0.1}
  - {name: Customers, measure: count_distinct("Order ID"), by: Channel,
     filter: "Region <> 'North'", target: 50}
  - {name: Median sale, measure: median("Sales"), time: Shipped At, grain: week, target: 180,
     direction: lower}
"""


def _export_csv(path: Path) -> Path:
    """The rows as a spreadsheet export: ISO dates, empty cells for missing values."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(data.NAMES)
        for row in ROWS:
            writer.writerow(["" if v is None else v for v in row])
    return path


def _same_output(live: list[dict], from_file: list[dict]) -> None:
    """Row for row the same KPIs, categories, periods, targets and statuses; actuals equal
    up to the last bits a different summing order gives."""
    assert len(live) == len(from_file) > 20
    for got, wanted in zip(live, from_file, strict=True):
        assert {k: v for k, v in got.items() if k not in ("actual", "attainment")} == {
            k: v for k, v in wanted.items() if k not in ("actual", "attainment")
        }
        for key in ("actual", "attainment"):
            if wanted[key] is None:
                assert got[key] is None
            else:
                assert got[key] == pytest.approx(wanted[key], rel=1e-9)


def test_evaluate_a_postgres_table_as_its_csv_export(postgres_url: str, tmp_path: Path) -> None:
    data.load_postgres(postgres_url, ROWS, "shop floor", "Orders 2024")
    kpis = tmp_path / "kpis.yaml"
    kpis.write_text(KPI_FILE, encoding="utf-8")
    table = '"shop floor"."Orders 2024"'
    live = run(
        "evaluate", postgres_url, "--table", table, "--kpis", kpis, "--format", "json", "--totals"
    )
    assert live.returncode == 0, live.stderr
    exported = _export_csv(tmp_path / "orders.csv")
    from_file = run("evaluate", exported, "--kpis", kpis, "--format", "json", "--totals")
    assert from_file.returncode == 0, from_file.stderr
    _same_output(json.loads(live.stdout), json.loads(from_file.stdout))
    as_csv = run("evaluate", postgres_url, "--table", table, "--kpis", kpis)
    assert as_csv.stdout.splitlines()[0] == ",".join(cli.OUTPUT_COLUMNS)


def test_evaluate_live_errors_are_one_line(postgres_url: str, tmp_path: Path) -> None:
    kpis = tmp_path / "kpis.yaml"
    kpis.write_text(KPI_FILE, encoding="utf-8")
    assert "--table NAME is needed" in one_line_error(run("evaluate", postgres_url, "--kpis", kpis))
    assert "no table 'missing'" in one_line_error(
        run("evaluate", postgres_url, "--table", "missing", "--kpis", kpis)
    )
    # a name is a name: looked up as one (a bound value), never run
    assert "no table 'a; DROP TABLE b'" in one_line_error(
        run("evaluate", postgres_url, "--table", "a; DROP TABLE b", "--kpis", kpis)
    )
    closed = "postgresql://kpi:s3cret@127.0.0.1:1/none"
    message = one_line_error(run("evaluate", closed, "--table", "t", "--kpis", kpis))
    assert "Could not connect to PostgreSQL at postgresql://127.0.0.1:1/none" in message
    assert "s3cret" not in message
    csv_file = _export_csv(tmp_path / "orders.csv")
    assert "--table goes with a database address" in one_line_error(
        run("evaluate", csv_file, "--table", "t", "--kpis", kpis)
    )
    assert "not a database address" in one_line_error(
        run("evaluate", "mysql://h/db", "--table", "t", "--kpis", kpis)
    )


@pytest.mark.spark
def test_evaluate_parquet_files_in_local_spark_as_in_duckdb(
    spark_session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``spark://local`` reads the Parquet file where it is (the test run's session is the
    process's, so ``evaluate`` uses it and leaves it running)."""
    parquet = tmp_path / "orders.parquet"
    con = data.load_duckdb(ROWS)
    con.execute(f"COPY orders TO '{parquet}' (FORMAT parquet)")
    kpis = tmp_path / "kpis.yaml"
    kpis.write_text(KPI_FILE, encoding="utf-8")
    common = ["--kpis", str(kpis), "--format", "json", "--totals"]
    table = f"parquet.`{parquet}`"
    assert cli.main(["evaluate", "spark://local", "--table", table, *common]) == 0
    live = json.loads(capsys.readouterr().out)
    assert cli.main(["evaluate", str(parquet), *common]) == 0
    _same_output(live, json.loads(capsys.readouterr().out))
    assert spark_session.sql("SELECT 1").collect()[0][0] == 1  # still running


def test_scorecard_of_a_postgres_table_as_of_its_csv_export(
    postgres_url: str, tmp_path: Path
) -> None:
    data.load_postgres(postgres_url, ROWS, "public", "orders")
    kpis = tmp_path / "kpis.yaml"
    kpis.write_text(KPI_FILE, encoding="utf-8")
    window = ["--kpis", kpis, "--window", "qtd", "--as-of", "2024-02-20", "--format", "json"]
    live = run("scorecard", postgres_url, "--table", "orders", *window)
    assert live.returncode == 0, live.stderr
    exported = _export_csv(tmp_path / "orders.csv")
    from_file = run("scorecard", exported, *window)
    assert from_file.returncode == 0, from_file.stderr
    got, wanted = json.loads(live.stdout), json.loads(from_file.stdout)
    assert len(got) == len(wanted) > 5
    for mine, theirs in zip(got, wanted, strict=True):
        for key, value in theirs.items():
            if isinstance(value, float):
                assert mine[key] == pytest.approx(value, rel=1e-9), key
            else:
                assert mine[key] == value, key
    assert "--table NAME is needed" in one_line_error(
        run("scorecard", postgres_url, "--kpis", kpis)
    )
