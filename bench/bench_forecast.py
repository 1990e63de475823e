"""Backtest of the due-date projection's 80% interval (``kpi_logic.projection``): how often
the interval held the value that came.

    .venv/bin/python bench/bench_forecast.py [--series 200]

1. The bundled sample: every KPI with a monthly or quarterly grain, each month end from the
   seventh month on taken as "today", due at the end of each of the next three periods; the
   projection is made by ``projection.project`` from the aggregate up to that day (the real
   path of the app), and compared with the period's actual computed by DuckDB from all rows.
2. Generated monthly series of known behaviour (``--series`` of each, 48 months, seeded):
   a trend with noise, a trend with a yearly season and noise (the model's own assumptions),
   a trend with autocorrelated noise (AR(1), 0.5) and a random walk with drift (neither is
   the model: the interval is expected to hold less often there). Each origin from month 12
   on forecasts 1, 2 and 3 months ahead with ``projection.forecast_values``.

Prints a Markdown table (copied to bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kpi_logic import compute, projection  # noqa: E402
from kpi_logic.kpi_file import kpis_from_yaml  # noqa: E402
from kpi_logic.model import period_start  # noqa: E402
from kpi_logic.sql import sandboxed_connection  # noqa: E402

HORIZONS = (1, 2, 3)
MONTHS = 48


def sample_backtest() -> tuple[int, int]:
    """(held, forecasts) over the sample's KPIs (see module doc)."""
    con = sandboxed_connection(allowed_dirs=[ROOT / "data"])
    con.execute(
        "CREATE TABLE s AS SELECT * FROM read_csv(?)", [str(ROOT / "data" / "sample_sales.csv")]
    )
    kpis = [
        k
        for k in kpis_from_yaml((ROOT / "data" / "sample_kpis.yaml").read_text())
        if k.grain in ("month", "quarter")
    ]
    everything = compute.aggregate_records(con, "s", kpis)
    actual = {
        (r["kpi"], r["period"]): r["actual"]
        for r in everything
        if r["category"] is None and r["period"] is not None
    }
    held = total = 0
    today = date(2023, 7, 31)
    while today < date(2024, 12, 31):
        records = compute.aggregate_records(con, "s", kpis, end=today)
        for kpi in kpis:
            due = today
            for _ in HORIZONS:
                due = projection.period_end(due + timedelta(days=1), kpi.grain)
                if due > date(2024, 12, 31):
                    break
                found = projection.project(dataclasses.replace(kpi, due=due), records, today)
                value = actual.get((kpi.name, period_start(due, kpi.grain)))
                if found is None or value is None or math.isnan(float(value)):
                    continue
                total += 1
                held += found.low <= float(value) <= found.high
        today = projection.period_end(today + timedelta(days=1), "month")
    return held, total


def generated(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One monthly series of ``MONTHS`` values of a known behaviour."""
    t = np.arange(MONTHS, dtype="float64")
    level = 100 + rng.normal(0, 20) + rng.normal(0, 1.5) * t
    noise = rng.normal(0, 5, MONTHS)
    if kind == "trend + season + noise":
        season = rng.normal(0, 8, 12)
        return level + season[t.astype(int) % 12] + noise
    if kind == "trend + AR(1) noise":
        ar = np.zeros(MONTHS)
        for i in range(1, MONTHS):
            ar[i] = 0.5 * ar[i - 1] + noise[i]
        return level + ar
    if kind == "random walk with drift":
        return 100 + np.cumsum(1.0 + noise)
    return level + noise


KINDS = ("trend + noise", "trend + season + noise", "trend + AR(1) noise", "random walk with drift")


def series_backtest(kind: str, count: int, seed: int = 12) -> tuple[int, int]:
    """(held, forecasts) over ``count`` generated series of ``kind``."""
    rng = np.random.default_rng(seed)
    held = total = 0
    for _ in range(count):
        values = generated(kind, rng)
        for origin in range(12, MONTHS - 1):
            for h in HORIZONS:
                if origin + h - 1 >= MONTHS:
                    continue
                found = projection.forecast_values(
                    values[:origin], list(range(origin)), origin + h - 1, season=12
                )
                if found is None:
                    continue
                low, high = found.interval()
                total += 1
                held += bool(low <= values[origin + h - 1] <= high)
    return held, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=200)
    args = parser.parse_args()
    rows = [("bundled sample, 9 KPIs, real path", *sample_backtest())]
    rows += [(f"generated: {kind}", *series_backtest(kind, args.series)) for kind in KINDS]
    print("| series | forecasts | interval held the actual |")
    print("|---|---|---|")
    for name, held, total in rows:
        print(f"| {name} | {total:,} | {held / total:.1%} |")


if __name__ == "__main__":
    main()
