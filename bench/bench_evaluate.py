"""Whole-process timing: ``python -m kpi_logic evaluate`` vs one hand-written DuckDB query vs
pandas, on a generated Parquet or CSV file (six monthly KPIs by ten categories, one of them a
distinct count over 200,000 customers).

    .venv/bin/python bench/bench_evaluate.py --rows 5000000 [--kind csv]

Each contender is a fresh process (imports included) that prints the same numbers; the best of
``--repeat`` runs counts, and the three outputs are checked against each other.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
REGIONS = [f"Region {i}" for i in range(10)]
CUSTOMERS = 200_000

KPIS = """
kpis:
  - {name: Sales, measure: sum("sales"), time: day, by: region, target: 1000000}
  - {name: Profit, measure: sum("profit"), time: day, by: region, target: 200000}
  - {name: Margin, measure: sum("profit") / sum("sales"), time: day, by: region, target: 0.2}
  - {name: Orders, measure: count("units"), time: day, by: region, target: 20000}
  - {name: Customers, measure: count_distinct("customer"), time: day, by: region, target: 9000}
  - {name: Return rate, measure: sum("returns") / sum("units"), time: day, by: region,
     direction: lower, target: 0.02}
"""

SQL_SCRIPT = """
import sys, duckdb
con = duckdb.connect()
rows = con.execute('''
    SELECT region, date_trunc('month', day)::DATE AS period,
           sum(sales), sum(profit), sum(profit) / sum(sales), count(units),
           count(DISTINCT customer), sum(returns) / sum(units)
    FROM read_parquet(?)
    GROUP BY region, period
''', [sys.argv[1]]).fetchall()
names = ["Sales", "Profit", "Margin", "Orders", "Customers", "Return rate"]
out = ["kpi,category,period,actual"]
for region, period, *values in rows:
    out += [f"{n},{region},{period},{v!r}" for n, v in zip(names, values)]
print("\\n".join(out))
"""

PANDAS_SCRIPT = """
import sys, pandas as pd
df = pd.read_parquet(sys.argv[1])
df["period"] = pd.to_datetime(df["day"]).to_numpy().astype("datetime64[M]")
out = ["kpi,category,period,actual"]
g = df.groupby(["region", "period"])
s = g[["sales", "profit", "returns", "units"]].sum()
values = {
    "Sales": s["sales"], "Profit": s["profit"], "Margin": s["profit"] / s["sales"],
    "Orders": g["units"].count(), "Customers": g["customer"].nunique(),
    "Return rate": s["returns"] / s["units"],
}
for name, series in values.items():
    out += [f"{name},{r},{p.date()},{v!r}" for (r, p), v in series.items()]
print("\\n".join(out))
"""


def sql_script(kind: str = "parquet") -> str:
    """The hand-written query as a script reading a ``kind`` (parquet or csv) file."""
    return SQL_SCRIPT.replace("read_parquet(", f"read_{kind}(")


def pandas_script(kind: str = "parquet") -> str:
    """The pandas groupby as a script reading a ``kind`` (parquet or csv) file."""
    return PANDAS_SCRIPT.replace("pd.read_parquet(", f"pd.read_{kind}(")


def contenders(data: Path, spec: Path, kind: str = "parquet") -> dict[str, list[str]]:
    """Name -> command of the three whole-process contenders on ``data``."""
    python = sys.executable
    return {
        "kpi_logic evaluate": [python, "-m", "kpi_logic", "evaluate", str(data), "--kpis",
                               str(spec)],
        "DuckDB hand-written SQL": [python, "-c", sql_script(kind), str(data)],
        f"pandas read_{kind} + groupby": [python, "-c", pandas_script(kind), str(data)],
    }  # fmt: skip


def check_same(results: dict[str, tuple[float, str]]) -> int:
    """Assert every contender printed the SQL's cells and numbers; returns the cell count."""
    reference = actuals(results["DuckDB hand-written SQL"][1])
    for name, (_, out) in results.items():
        got = actuals(out)
        assert got.keys() == reference.keys(), f"{name}: other cells than the SQL"
        assert np.allclose([got[k] for k in reference], list(reference.values())), name
    return len(reference)


def orders_table(rows: int, rng: np.random.Generator) -> pa.Table:
    """Orders over two years: a date, a 10-value category, numeric columns and a customer."""
    days = np.datetime64("2023-01-01") + rng.integers(0, 730, rows).astype("timedelta64[D]")
    units = rng.integers(1, 10, rows)
    sales = (units * rng.gamma(2.0, 20.0, rows)).round(2)
    return pa.table(
        {
            "day": pa.array(days, pa.date32()),
            "region": pa.array(np.array(REGIONS)[rng.integers(0, 10, rows)]),
            "sales": sales,
            "profit": (sales * rng.normal(0.2, 0.1, rows)).round(2),
            "units": units,
            "returns": rng.binomial(units, 0.02),
            "customer": rng.integers(0, CUSTOMERS, rows),
        }
    )


def generate(path: Path, rows: int, seed: int = 1, chunk: int = 5_000_000) -> None:
    """Write ``rows`` orders as Parquet, ``chunk`` rows at a time (bounded memory)."""
    rng = np.random.default_rng(seed)
    with pq.ParquetWriter(path, orders_table(1, rng).schema) as writer:
        for start in range(0, rows, chunk):
            writer.write_table(orders_table(min(chunk, rows - start), rng), 1_000_000)


def to_csv(parquet: Path, path: Path) -> None:
    """Write the Parquet file ``parquet`` as CSV with a header (ISO dates)."""
    import duckdb

    duckdb.connect().execute(
        "COPY (SELECT * FROM read_parquet(?)) TO ? (HEADER)", [str(parquet), str(path)]
    )


def best_of(commands: dict[str, list[str]], repeat: int) -> dict[str, tuple[float, str]]:
    """Name -> fastest wall time of ``repeat`` runs and standard output; the contenders take
    turns, so a slow spell of the machine (or of its disk) does not hit one of them only."""
    results = {name: (float("inf"), "") for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            start = time.perf_counter()
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
            elapsed = time.perf_counter() - start
            if done.returncode:
                sys.exit(f"{name} failed: {done.stderr.strip()}")
            results[name] = (min(results[name][0], elapsed), done.stdout)
    return results


def actuals(text: str) -> dict[tuple[str, str, str], float]:
    """(kpi, category, period) -> actual from CSV output (after DuckDB's progress bar, which
    the hand-written script prints on standard output when its query takes seconds)."""
    return {
        (r["kpi"], r["category"], r["period"]): float(r["actual"])
        for r in csv.DictReader(io.StringIO(text[text.index("kpi,category,period,") :]))
    }


def compile_app() -> None:
    """Cache the app's compiled modules as any installed package has them. With
    PYTHONDONTWRITEBYTECODE set (as on some CI machines) Python never writes them, and every
    run would compile ``kpi_logic`` from source (~30 ms) while DuckDB's modules come compiled
    from pip."""
    import compileall

    for folder in ("kpi_logic", "ui", "pages"):
        compileall.compile_dir(ROOT / folder, quiet=1)
    compileall.compile_file(ROOT / "app.py", quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kind", choices=("parquet", "csv"), default="parquet")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data, spec = Path(folder) / "orders.parquet", Path(folder) / "kpis.yaml"
        generate(data, args.rows)
        if args.kind == "csv":
            to_csv(data, data.with_suffix(".csv"))
            data.unlink()
            data = data.with_suffix(".csv")
        spec.write_text(KPIS)
        os.sync()  # the file on disk first: no write-back while the contenders read it
        compile_app()
        results = best_of(contenders(data, spec, args.kind), args.repeat)
    cells = check_same(results)
    sql = results["DuckDB hand-written SQL"][0]
    print(f"{args.rows:,} rows ({args.kind}), 6 monthly KPIs by 10 categories (one a distinct "
          f"count of {CUSTOMERS:,} customers), best of {args.repeat} (whole processes; same "
          f"{cells} numbers checked)")  # fmt: skip
    print(f"{'':32}{'seconds':>9}{'x SQL':>8}")
    for name, (seconds, _) in results.items():
        print(f"{name:32}{seconds:9.2f}{seconds / sql:8.2f}")


if __name__ == "__main__":
    main()
