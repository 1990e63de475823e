"""projection: the interval forecast against an independent least-squares computation, its
coverage on generated series and on the sample, and the probability's rules."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kpi_logic import compute, projection
from kpi_logic.kpi_file import kpis_from_yaml
from kpi_logic.model import KPI, Bands, Target
from kpi_logic.sql import sandboxed_connection

ROOT = Path(__file__).resolve().parent.parent
T90 = {2: 1.886, 5: 1.476, 10: 1.372, 30: 1.310}  # t(0.90, df), from published tables


def test_t_distribution_matches_tables() -> None:
    for df, value in T90.items():
        assert projection.t_quantile(0.9, df) == pytest.approx(value, abs=1e-3)
        assert projection.t_cdf(value, df) == pytest.approx(0.9, abs=1e-3)
    assert projection.t_cdf(0.0, 7) == pytest.approx(0.5)


def test_trend_forecast_equals_textbook_regression() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(20, dtype=float)
    y = 50 + 2.5 * t + rng.normal(0, 3, 20)
    found = projection.forecast_values(list(y), list(range(20)), 22)
    assert found is not None
    slope, intercept = np.polyfit(t, y, 1)  # numpy's own fit, not the module's
    residual = y - (intercept + slope * t)
    s = math.sqrt((residual**2).sum() / 18)
    se = s * math.sqrt(1 + 1 / 20 + (22 - t.mean()) ** 2 / ((t - t.mean()) ** 2).sum())
    assert found.mean == pytest.approx(intercept + slope * 22)
    assert found.scale == pytest.approx(se)
    assert found.df == 18
    low, high = found.interval()
    assert (high - low) / 2 == pytest.approx(projection.t_quantile(0.9, 18) * se)
    assert projection.forecast_values([1.0, 2.0, 3.0], [0, 1, 2], 3) is None  # too few


def test_seasonal_dummies_with_two_years() -> None:
    t = np.arange(30)
    season = np.array([5, -3, 0, 2, 8, -6, 1, 0, -2, 4, -5, -4], dtype=float)
    y = 100 + 1.0 * t + season[t % 12]  # no noise: the fit is exact
    found = projection.forecast_values(list(y), list(t), 31, season=12)
    assert found is not None
    assert found.seasonal
    assert found.mean == pytest.approx(100 + 31 + season[31 % 12])
    short = projection.forecast_values(list(y[:20]), list(t[:20]), 21, season=12)
    assert short is not None
    assert not short.seasonal  # under two years: trend only


def _coverage(kind: str, rng: np.random.Generator, count: int) -> tuple[int, int]:
    held = total = 0
    months = 40
    for _ in range(count):
        t = np.arange(months)
        y = 200 + rng.normal(0, 1) * t + rng.normal(0, 10, months)
        if kind == "seasonal":
            y = y + rng.normal(0, 15, 12)[t % 12]
        for origin in range(24, months - 2):
            for h in (1, 3):
                found = projection.forecast_values(
                    list(y[:origin]), list(t[:origin]), origin + h - 1, season=12
                )
                assert found is not None
                low, high = found.interval()
                total += 1
                held += bool(low <= y[origin + h - 1] <= high)
    return held, total


@pytest.mark.parametrize("kind", ["trend", "seasonal"])
def test_interval_holds_about_80_percent_of_generated_actuals(kind: str) -> None:
    held, total = _coverage(kind, np.random.default_rng(12), 60)
    assert total == 60 * 14 * 2
    assert 0.75 <= held / total <= 0.85


def sales(**changes: object) -> KPI:
    base = KPI(
        "Sales",
        'sum("v")',
        time="day",
        grain="month",
        target=Target(1000),
        due=date(2024, 6, 30),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def records(values: dict[date, float], as_of: date, additive: bool = True) -> list[dict]:
    return [
        {"kpi": "Sales", "category": None, "period": p, "actual": v, "as_of": as_of,
         "additive": additive}
        for p, v in values.items()
    ]  # fmt: skip


MONTHS = [date(2023, m, 1) for m in range(1, 13)] + [date(2024, m, 1) for m in range(1, 7)]


def history(june: float | None = None) -> dict[date, float]:
    values = {p: 700.0 + 10 * i + (13 if i % 2 else -13) for i, p in enumerate(MONTHS[:-1])}
    if june is not None:
        values[MONTHS[-1]] = june
    return values


def test_probability_never_rises_with_a_stricter_target() -> None:
    rows = records(history(), date(2024, 5, 31))
    chances = []
    for target in range(700, 1200, 20):
        found = projection.project(sales(target=Target(float(target))), rows)
        assert found is not None
        chances.append(found.probability)
    assert all(a >= b for a, b in zip(chances, chances[1:], strict=False))
    assert chances[0] > 0.95
    assert chances[-1] < 0.05
    lower = [
        projection.project(sales(direction="lower", target=Target(float(t))), rows)
        for t in range(700, 1200, 20)
    ]
    odds = [p.probability for p in lower if p is not None]
    assert all(a <= b for a, b in zip(odds, odds[1:], strict=False))  # lower is better


def test_projection_to_date_and_target_already_met() -> None:
    as_of = date(2024, 6, 10)
    rows = records(history(june=400.0), as_of)
    found = projection.project(sales(), rows)
    assert found is not None
    # months 0..16 of history, June forecast by hand with numpy, 20 of 30 days still to come
    values = list(history().values())
    slope, intercept = np.polyfit(np.arange(17), values, 1)
    assert found.value == pytest.approx(400 + (intercept + slope * 17) * 20 / 30)
    assert found.low <= found.value <= found.high
    met = projection.project(sales(target=Target(350)), rows)
    assert met is not None
    assert met.probability == 1.0  # a sum only grows: 400 is in already
    assert met.low >= 400


def test_due_date_passed_is_known() -> None:
    rows = records(history(june=1100.0), date(2024, 7, 3))
    found = projection.project(sales(), rows)
    assert found is not None
    assert (found.method, found.value, found.low, found.high) == ("known", 1100, 1100, 1100)
    assert found.probability == 1.0
    missed = projection.project(sales(target=Target(1200), bands=Bands(1.0, 0.9)), rows)
    assert missed is not None
    assert missed.probability == 0.0
    assert projection.project(sales(due=None), rows) is None


def test_sample_backtest_coverage() -> None:
    """The bench's figure for the sample (bench/RESULTS.md): month ends as "today", due at the
    end of the next period, actuals computed with pandas from the rows."""
    data = pd.read_csv(ROOT / "data" / "sample_sales.csv", parse_dates=["Date"])
    con = sandboxed_connection(allowed_dirs=[ROOT / "data"])
    con.register("frame", data)
    con.execute("CREATE TABLE s AS SELECT * FROM frame")
    kpis = kpis_from_yaml((ROOT / "data" / "sample_kpis.yaml").read_text())
    picked = [k for k in kpis if k.name in ("Revenue", "Profit Margin", "New Customers")]
    month = data["Date"].dt.to_period("M")
    revenue = data.groupby(month)["Revenue"].sum()
    margin = (revenue - data.groupby(month)["Cost"].sum()) / revenue
    customers = data.groupby(month)["New Customers"].sum()
    truth = {"Revenue": revenue, "Profit Margin": margin, "New Customers": customers}
    held = total = 0
    today = date(2023, 7, 31)
    while today < date(2024, 12, 1):
        rows = compute.aggregate_records(con, "s", picked, end=today)
        due = projection.period_end(today + timedelta(days=1), "month")
        for kpi in picked:
            found = projection.project(dataclasses.replace(kpi, due=due), rows, today)
            assert found is not None
            actual = truth[kpi.name][pd.Period(due, "M")]
            total += 1
            held += found.low <= actual <= found.high
        today = due
    assert total == 17 * 3
    assert 0.7 <= held / total <= 0.9
