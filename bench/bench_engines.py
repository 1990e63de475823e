"""KPIs computed where the data lives, side by side (issue 14):

1. PostgreSQL: ``evaluate URL --table orders`` (the aggregate query runs in PostgreSQL, only
   aggregates come back) against copying the table out (``COPY ... TO STDOUT``, CSV) and
   ``evaluate`` of that file in DuckDB.
2. Spark local against DuckDB on the same Parquet file: ``evaluate spark://local --table
   parquet.`FILE``` and ``evaluate FILE`` (whole processes), and Spark warm (a session
   already running) to separate the JVM's start.

    .venv/bin/python bench/bench_engines.py --rows 2000000
    .venv/bin/python bench/bench_engines.py --rows 20000000      # the issue's full size

It starts its own PostgreSQL cluster (Debian's binaries, as the tests do) in a temporary
folder and removes it afterwards. Outputs of the contenders are checked against each other.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KPIS = """
kpis:
  - {name: Sales, measure: sum("sales"), time: day, grain: month, by: region, target: 1000000}
  - {name: Margin, measure: sum("profit") / sum("sales"), time: day, grain: month, by: region,
     target: 0.2}
  - {name: Customers, measure: count_distinct("customer"), time: day, grain: quarter,
     by: region, target: 1000}
  - {name: Big orders, measure: count(*), time: day, grain: month, by: channel,
     filter: "sales > 300", target: 100}
"""

# the same rows in both engines: a deterministic function of the row number
PG_FILL = """
CREATE TABLE orders AS
SELECT DATE '2023-01-01' + (i % 730)::integer AS day,
       'Region ' || (i % 10) AS region,
       (ARRAY['Online', 'Store', 'Partner'])[1 + (i % 3)] AS channel,
       'C' || (i % 50000) AS customer,
       (((i * 7919) % 50000) / 100.0)::double precision AS sales,
       (((i * 104729) % 20000) / 100.0 - 50)::double precision AS profit
FROM generate_series(1::bigint, %(rows)s) AS s(i)
"""
DUCK_FILL = """
COPY (
SELECT DATE '2023-01-01' + CAST(i % 730 AS INTEGER) AS day,
       'Region ' || (i % 10) AS region,
       ['Online', 'Store', 'Partner'][1 + (i % 3)] AS channel,
       'C' || (i % 50000) AS customer,
       CAST((i * 7919) % 50000 AS DOUBLE) / 100.0 AS sales,
       CAST((i * 104729) % 20000 AS DOUBLE) / 100.0 - 50 AS profit
FROM range(1, {rows} + 1) AS s(i)
) TO '{path}' (FORMAT parquet)
"""


def _evaluate(*args: str | Path) -> tuple[float, list[dict]]:
    """Seconds of one ``evaluate`` process and its rows (JSON)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "kpi_logic", "evaluate", *map(str, args), "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"evaluate {args[0]} failed: {done.stderr}")
    return seconds, json.loads(done.stdout)


def _agree(a: list[dict], b: list[dict], what: str) -> None:
    assert len(a) == len(b), what
    for x, y in zip(a, b, strict=True):
        assert (x["kpi"], x["category"], x["period"]) == (y["kpi"], y["category"], y["period"])
        assert abs(x["actual"] - y["actual"]) <= 1e-6 * max(1.0, abs(y["actual"])), (what, x, y)


def bench_postgres(rows: int, folder: Path, kpis: Path) -> list[str]:
    import psycopg

    from tests.postgres_server import postgres_cluster

    lines = []
    with postgres_cluster(folder / "pg") as url:
        with psycopg.connect(url, autocommit=True) as con:
            start = time.perf_counter()
            con.execute(PG_FILL.replace("%(rows)s", str(int(rows))))
            con.execute("ANALYZE orders")
            print(f"filled {rows:,} rows in {time.perf_counter() - start:.1f} s", flush=True)
        pushed, pushed_out = _evaluate(url, "--table", "orders", "--kpis", kpis)
        pushed2, _ = _evaluate(url, "--table", "orders", "--kpis", kpis)
        start = time.perf_counter()
        csv_path = folder / "orders.csv"
        with psycopg.connect(url) as con, csv_path.open("wb") as out:
            cur = con.cursor()
            with cur.copy("COPY orders TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
                for chunk in copy:
                    out.write(chunk)
        copied = time.perf_counter() - start
        local, local_out = _evaluate(csv_path, "--kpis", kpis)
        _agree(pushed_out, local_out, "PostgreSQL pushed down vs copied into DuckDB")
        size = csv_path.stat().st_size
        back = len(pushed_out)
        lines += [
            f"| PostgreSQL, {rows:,} rows | pushed down: `evaluate URL --table orders` | "
            f"{min(pushed, pushed2):.2f} s | {back} result rows |",
            f"| | copy out (`COPY TO STDOUT`, CSV) then `evaluate orders.csv` in DuckDB | "
            f"{copied + local:.2f} s ({copied:.2f} copy + {local:.2f} evaluate) | "
            f"{rows:,} rows, {size / 1e6:,.0f} MB |",
        ]
    return lines


def bench_spark(rows: int, folder: Path, kpis: Path) -> list[str]:
    import duckdb

    parquet = folder / "orders.parquet"
    duckdb.connect().execute(DUCK_FILL.format(rows=int(rows), path=parquet))
    duck, duck_out = _evaluate(parquet, "--kpis", kpis)
    duck2, _ = _evaluate(parquet, "--kpis", kpis)
    cold, spark_out = _evaluate("spark://local", "--table", f"parquet.`{parquet}`", "--kpis", kpis)
    _agree(spark_out, duck_out, "Spark vs DuckDB")
    warm = _spark_warm(parquet, kpis)
    return [
        f"| Parquet, {rows:,} rows | DuckDB: `evaluate orders.parquet` | "
        f"{min(duck, duck2):.2f} s | whole process |",
        f"| | Spark local: `evaluate spark://local --table parquet.`...`` | {cold:.2f} s | "
        "whole process, JVM start included |",
        f"| | Spark local, session already running | {warm:.2f} s | the queries alone |",
    ]


def _spark_warm(parquet: Path, kpis: Path) -> float:
    from pyspark.sql import SparkSession

    from kpi_logic import dialects, engines
    from kpi_logic.kpi_file import kpis_from_yaml

    session = (
        SparkSession.builder.master("local[*]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .getOrCreate()
    )
    engine = engines.SparkEngine(session)
    table = dialects.table_ref(f"parquet.`{parquet}`", "spark")
    kpi_list = kpis_from_yaml(kpis.read_text())
    engines.aggregate_records(engine, table, kpi_list)  # first run: JIT and file listing
    start = time.perf_counter()
    engines.aggregate_records(engine, table, kpi_list)
    seconds = time.perf_counter() - start
    session.stop()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--skip", choices=("postgres", "spark"), action="append", default=[])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kpi-bench-engines-") as tmp:
        folder = Path(tmp)
        os.chmod(folder, 0o755)  # the postgres user enters it to run the cluster
        kpis = folder / "kpis.yaml"
        kpis.write_text(KPIS, encoding="utf-8")
        lines = ["| data | contender | time | what travels |", "|---|---|---|---|"]
        if "postgres" not in args.skip:
            lines += bench_postgres(args.rows, folder, kpis)
        if "spark" not in args.skip:
            lines += bench_spark(args.rows, folder, kpis)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
