"""Benchmark: ``load_file`` against DuckDB's own ``read_csv`` and ``pandas.read_csv``.

Generates a realistic orders export (ISO and M/D/YYYY dates, text categories, integers,
decimals, a ``$1,234.50`` currency column, percentages, a sparse notes column) in a temporary
folder, then times each reader as a whole function call, best of ``--repeat`` runs.

    python bench/bench_ingest.py --rows 2000000 --repeat 3

Target: ``load_file`` within 1.5x of DuckDB's plain ``CREATE TABLE AS SELECT * FROM read_csv``
(which types fewer columns: it leaves currency, percentages and M/D/YYYY dates as text).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kpi_logic.ingest import load_file  # noqa: E402
from kpi_logic.sql import sandboxed_connection  # noqa: E402

GENERATE = """
COPY (
    SELECT
        i + 1 AS "Order ID",
        DATE '2020-01-01' + CAST(h[1] % 1500 AS INTEGER) AS "Order Date",
        ['North', 'South', 'East', 'West', 'Central'][1 + h[2] % 5] AS "Region",
        'Product ' || (h[3] % 200) AS "Product",
        1 + h[4] % 49 AS "Quantity",
        round(1 + (h[5] % 49900) / 100, 2) AS "Unit Price",
        '$' || format('{:,.2f}', (h[6] % 2500000) / 100) AS "Revenue",
        (h[7] % 30) || '%' AS "Discount",
        strftime(DATE '2020-01-01' + CAST(h[8] % 1500 AS INTEGER), '%-m/%-d/%Y') AS "Ship Date",
        ['', 'rush', 'gift', 'NA'][1 + h[9] % 4] AS "Notes"
    FROM (
        SELECT i, list_transform(range(9), lambda k: CAST(hash(i, k) >> 1 AS BIGINT)) AS h
        FROM range($rows) AS t(i)
    )
) TO '{path}' (HEADER, DELIMITER ',')
"""


def generate(path: Path, rows: int) -> None:
    """Write the benchmark CSV with DuckDB (seconds even for millions of rows)."""
    escaped = str(path).replace("'", "''")
    duckdb.connect().execute(GENERATE.replace("{path}", escaped), {"rows": rows})


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """Smallest wall time of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows to generate")
    parser.add_argument("--repeat", type=int, default=3, help="runs per reader (best is kept)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orders.csv"
        start = time.perf_counter()
        generate(path, args.rows)
        size_mb = path.stat().st_size / 1024**2
        took = time.perf_counter() - start
        print(f"{args.rows:,} rows, {size_mb:,.0f} MB, generated in {took:.1f} s")

        plain = duckdb.connect()
        ours = sandboxed_connection(allowed_dirs=[folder])
        result = load_file(ours, path, "orders")
        assert result.rows == args.rows, result.rows
        print("load_file types: " + ", ".join(f"{c.name}={c.dtype}" for c in result.columns))

        readers: dict[str, Callable[[], object]] = {
            "duckdb read_csv": lambda: plain.execute(
                "CREATE OR REPLACE TABLE t AS SELECT * FROM read_csv($path)", {"path": str(path)}
            ),
            "load_file": lambda: load_file(ours, path, "orders"),
            "pandas.read_csv": lambda: pd.read_csv(path),
        }
        timings = {name: best_of(args.repeat, run) for name, run in readers.items()}

    base = timings["duckdb read_csv"]
    print(f"\n{'reader':<18}{'seconds':>9}{'rows/s':>14}{'vs duckdb':>11}")
    for name, seconds in timings.items():
        print(f"{name:<18}{seconds:>9.2f}{args.rows / seconds:>14,.0f}{seconds / base:>10.2f}x")


if __name__ == "__main__":
    main()
