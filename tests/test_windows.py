"""Time windows and the scorecard against independent pandas computations on generated daily
orders: year-, quarter-, month-to-date, last 12 months and date ranges per category and in
total, the same days last year, pro-rated window targets, a target changing mid-year, a fiscal
year starting in July, ratio and distinct-count KPIs, and target 0; the command line too."""

from __future__ import annotations

import calendar
import csv
import io
import json
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kpi_logic import scorecard, windows
from kpi_logic.ingest import load_file
from kpi_logic.kpi_file import kpis_from_yaml
from kpi_logic.sql import sandboxed_connection
from tests.test_cli import run

AS_OF = date(2024, 8, 20)
REGIONS = ["East", "North", "West"]
KPIS = """
kpis:
  - name: Sales
    measure: sum("Sales")
    time: Day
    by: Region
    target: {default: 10000, by: {West: 5000}, from: {2024-07-01: 12000}}
  - name: Margin
    unit: percent
    measure: sum("Profit") / sum("Sales")
    time: Day
    by: Region
    target: {total: 0.3, periods: {2024-08-01: 0.35}}
  - name: Customers
    measure: count_distinct("Customer")
    time: Day
    target: 40
  - name: Returns
    measure: count(*)
    filter: '"Returned" = 1'
    time: Day
    direction: lower
    target: 0
"""


def orders_frame(seed: int = 11) -> pd.DataFrame:
    """Daily orders from 2023-01-01 to AS_OF; North sells nothing in August 2023."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2023-01-01", AS_OF.isoformat(), freq="D")
    rows = 6 * len(days)
    frame = pd.DataFrame(
        {
            "Day": rng.choice(days, rows),
            "Region": rng.choice(REGIONS, rows),
            "Sales": rng.gamma(2.0, 60.0, rows).round(2),
            "Customer": rng.integers(1, 120, rows),
            "Returned": (rng.random(rows) < 0.02).astype(int),
        }
    )
    frame["Profit"] = (frame["Sales"] * rng.uniform(0.1, 0.5, rows)).round(2)
    north_august = (frame["Region"] == "North") & (frame["Day"].dt.strftime("%Y-%m") == "2023-08")
    return frame[~north_august].reset_index(drop=True)


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return orders_frame()


@pytest.fixture(scope="module")
def data_file(orders: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("orders")
    orders.assign(Day=orders["Day"].dt.date).to_csv(folder / "orders.csv", index=False)
    (folder / "kpis.yaml").write_text(KPIS)
    return folder / "orders.csv"


@pytest.fixture(scope="module")
def con(data_file: Path):
    connection = sandboxed_connection(allowed_dirs=[data_file.parent])
    load_file(connection, data_file, "orders")
    yield connection
    connection.close()


# --- the expected figures, computed here without the engine -----------------------------------


def between(frame: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    days = frame["Day"].dt.date
    return frame[(days >= start) & (days <= end)]


def year_before(day: date) -> date:
    return day.replace(year=day.year - 1, day=min(day.day, 28 if day.month == 2 else 31))


def monthly_sales_target(region: str, month: date) -> float:
    """The Sales KPI's target of one region in one month, read off the KPI file by hand."""
    if region == "West":
        return 5000.0
    return 12000.0 if month >= date(2024, 7, 1) else 10000.0


def prorated(region: str, start: date, end: date) -> float:
    """Sum of monthly targets over start..end, a partial month by its share of days."""
    total, day = 0.0, start
    while day <= end:
        days_in_month = calendar.monthrange(day.year, day.month)[1]
        last = min(end, day.replace(day=days_in_month))
        share = ((last - day).days + 1) / days_in_month
        total += monthly_sales_target(region, day.replace(day=1)) * share
        day = last + timedelta(days=1)
    return total


def rows_by(result: list[dict], kpi: str) -> dict[str | None, dict]:
    return {r["category"]: r for r in result if r["kpi"] == kpi}


# --- window dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "fiscal", "start", "full_end"),
    [
        ("period", 1, date(2024, 8, 1), date(2024, 8, 31)),
        ("mtd", 1, date(2024, 8, 1), date(2024, 8, 31)),
        ("qtd", 1, date(2024, 7, 1), date(2024, 9, 30)),
        ("qtd", 2, date(2024, 8, 1), date(2024, 10, 31)),  # fiscal quarters Feb, May, Aug, Nov
        ("ytd", 1, date(2024, 1, 1), date(2024, 12, 31)),
        ("ytd", 7, date(2024, 7, 1), date(2025, 6, 30)),
        ("ytd", 9, date(2023, 9, 1), date(2024, 8, 31)),
        ("last-12", 1, date(2023, 9, 1), date(2024, 8, 31)),
    ],
)
def test_window_dates(kind: str, fiscal: int, start: date, full_end: date) -> None:
    span = windows.window(kind, AS_OF, fiscal_year_start=fiscal)
    assert (span.start, span.end, span.full_end) == (start, AS_OF, full_end)
    assert span.partial
    assert span.last_year().start == year_before(start)
    assert span.last_year().end == date(2023, 8, 20)


def test_window_of_a_week_and_a_leap_day() -> None:
    week = windows.window("period", date(2024, 2, 29), grain="week")
    assert (week.start, week.full_end) == (date(2024, 2, 26), date(2024, 3, 3))
    assert week.last_year().end == date(2023, 2, 28)
    whole = windows.window("range", AS_OF, start=date(2024, 1, 1), end=date(2024, 3, 31))
    assert not whole.partial
    with pytest.raises(Exception, match="after its end"):
        windows.window("range", AS_OF, start=date(2024, 4, 1), end=date(2024, 3, 31))


# --- the scorecard -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "start"),
    [
        ("ytd", date(2024, 1, 1)),
        ("qtd", date(2024, 7, 1)),
        ("mtd", date(2024, 8, 1)),
        ("last-12", date(2023, 9, 1)),
    ],
)
def test_to_date_windows_per_category_and_total(con, orders, kind: str, start: date) -> None:
    kpis = kpis_from_yaml(KPIS)
    result = scorecard.scorecard(con, "orders", kpis, scorecard.WindowChoice(kind=kind))
    sales = rows_by(result, "Sales")
    now, before = (
        between(orders, start, AS_OF),
        between(orders, year_before(start), date(2023, 8, 20)),
    )
    by_region, last_year = (
        now.groupby("Region")["Sales"].sum(),
        before.groupby("Region")["Sales"].sum(),
    )
    for region in REGIONS:
        row = sales[region]
        assert (row["window_start"], row["window_end"]) == (start, AS_OF)
        assert row["actual"] == pytest.approx(by_region[region])
        if region in last_year:
            assert row["last_year"] == pytest.approx(last_year[region])
            assert row["change_vs_last_year"] == pytest.approx(
                by_region[region] - last_year[region]
            )
        else:  # North sold nothing in August 2023: no figure, not a made-up 0
            assert math.isnan(row["last_year"])
            assert math.isnan(row["change_vs_last_year"])
        assert row["target"] == pytest.approx(prorated(region, start, AS_OF))
        assert row["attainment"] == pytest.approx(
            by_region[region] / prorated(region, start, AS_OF)
        )
    total = sales[None]
    assert total["actual"] == pytest.approx(now["Sales"].sum())
    assert total["last_year"] == pytest.approx(before["Sales"].sum())
    # no total target: the regions' window targets added up
    assert total["target"] == pytest.approx(sum(prorated(r, start, AS_OF) for r in REGIONS))
    # a ratio of sums over the window, never an average of periods; the target of the last period
    margin = rows_by(result, "Margin")
    assert margin[None]["actual"] == pytest.approx(now["Profit"].sum() / now["Sales"].sum())
    west = now[now["Region"] == "West"]
    assert margin["West"]["actual"] == pytest.approx(west["Profit"].sum() / west["Sales"].sum())
    assert margin[None]["target"] == pytest.approx(0.35)  # August's
    assert margin["West"]["target"] == pytest.approx(0.35)  # a ratio category inherits it
    customers = rows_by(result, "Customers")[None]
    assert customers["actual"] == now["Customer"].nunique()
    assert customers["last_year"] == before["Customer"].nunique()
    assert customers["target"] == 40


def test_the_latest_period_is_compared_with_the_same_days_last_year(con, orders) -> None:
    kpis = kpis_from_yaml(KPIS)
    result = scorecard.scorecard(con, "orders", kpis, scorecard.WindowChoice())
    total = rows_by(result, "Sales")[None]
    august = between(orders, date(2024, 8, 1), AS_OF)["Sales"].sum()
    same_days = between(orders, date(2023, 8, 1), date(2023, 8, 20))["Sales"].sum()
    assert total["partial"] is True
    assert total["actual"] == pytest.approx(august)
    assert total["last_year"] == pytest.approx(same_days)  # not the whole of August 2023
    assert total["target"] == pytest.approx(
        sum(12000 if r != "West" else 5000 for r in REGIONS) * 20 / 31
    )


def test_a_date_range_and_an_as_of_day(con, orders) -> None:
    kpis = kpis_from_yaml(KPIS)
    choice = scorecard.WindowChoice(kind="range", start=date(2024, 2, 10), end=date(2024, 3, 31))
    east = rows_by(scorecard.scorecard(con, "orders", kpis, choice), "Sales")["East"]
    span = between(orders, date(2024, 2, 10), date(2024, 3, 31))
    assert east["actual"] == pytest.approx(span[span["Region"] == "East"]["Sales"].sum())
    assert east["target"] == pytest.approx(10000 * 20 / 29 + 10000)  # 20 of February's 29 days
    earlier = scorecard.WindowChoice(kind="ytd", as_of=date(2024, 5, 15))
    total = rows_by(scorecard.scorecard(con, "orders", kpis, earlier), "Sales")[None]
    assert total["actual"] == pytest.approx(
        between(orders, date(2024, 1, 1), date(2024, 5, 15))["Sales"].sum()
    )


def test_target_zero_is_judged_not_divided(con, orders) -> None:
    kpis = kpis_from_yaml(KPIS)
    result = scorecard.scorecard(con, "orders", kpis, scorecard.WindowChoice(kind="ytd"))
    returns = rows_by(result, "Returns")[None]
    expected = int(between(orders, date(2024, 1, 1), AS_OF)["Returned"].sum())
    assert expected > 0
    assert returns["actual"] == expected
    assert returns["target"] == 0
    assert math.isnan(returns["attainment"])
    assert returns["status"] == "off target"  # lower is better, above 0


# --- the command line ----------------------------------------------------------------------------


def test_scorecard_command_with_a_fiscal_year_from_july(data_file: Path, orders) -> None:
    kpis = data_file.parent / "kpis.yaml"
    result = run("scorecard", data_file, "--kpis", kpis, "--window", "ytd",
                 "--fiscal-year-start", "7")  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == scorecard.SCORECARD_COLUMNS
    sales = {r["category"]: r for r in rows if r["kpi"] == "Sales"}
    assert set(sales) == {"", *REGIONS}
    assert sales["East"]["window_start"] == "2024-07-01"
    assert sales["East"]["window_end"] == AS_OF.isoformat()
    # the target changed on 1 July: 12,000 for July and 20 days of August
    assert float(sales["East"]["target"]) == pytest.approx(12000 + 12000 * 20 / 31)
    assert float(sales["West"]["target"]) == pytest.approx(5000 + 5000 * 20 / 31)
    now = between(orders, date(2024, 7, 1), AS_OF)
    assert float(sales[""]["actual"]) == pytest.approx(now["Sales"].sum())
    last = between(orders, date(2023, 7, 1), date(2023, 8, 20))
    assert float(sales[""]["last_year"]) == pytest.approx(last["Sales"].sum())


def test_scorecard_command_json_as_of_and_a_year_straddling_the_target_change(
    data_file: Path, orders
) -> None:
    kpis = data_file.parent / "kpis.yaml"
    out = data_file.parent / "card.json"
    result = run("scorecard", data_file, "--kpis", kpis, "--window", "ytd", "--as-of",
                 "2024-07-10", "--format", "json", "--out", out)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = json.loads(out.read_text())
    north = next(r for r in rows if r["kpi"] == "Sales" and r["category"] == "North")
    assert north["window_start"] == "2024-01-01"
    # six months at 10,000, then 10 days of July at 12,000
    assert north["target"] == pytest.approx(6 * 10000 + 12000 * 10 / 31)
    assert north["status"] in ("on target", "at risk", "off target")


def test_scorecard_command_refuses_a_bad_date(data_file: Path) -> None:
    result = run("scorecard", data_file, "--kpis", data_file.parent / "kpis.yaml",
                 "--as-of", "yesterday")  # fmt: skip
    assert result.returncode == 2
    assert "is not a date like" in result.stderr
    assert "Traceback" not in result.stderr


# --- windows from the per-day parts, without a query ----------------------------------------

DERIVED = """
kpis:
  - {name: Sales, measure: sum("Sales"), time: Day, by: Region}
  - {name: Margin, measure: sum("Profit") / sum("Sales"), time: Day, by: Region}
  - {name: Average order, measure: avg("Sales"), time: Day, by: Region}
  - {name: Biggest order, measure: max("Sales"), time: Day, by: Region}
  - {name: Smallest order, measure: min("Sales"), time: Day}
  - {name: Returns, measure: count(*), filter: '"Returned" = 1', time: Day, by: Region}
  - {name: Cost, measure: sum("Sales") - sum("Profit"), time: Day, by: Region}
  - {name: Cost share, measure: (sum("Sales") - sum("Profit")) / sum("Sales"), time: Day}
"""

PANDAS_MEASURES = {
    "Sales": lambda g: g["Sales"].sum(),
    "Margin": lambda g: g["Profit"].sum() / g["Sales"].sum(),
    "Average order": lambda g: g["Sales"].mean(),
    "Biggest order": lambda g: g["Sales"].max(),
    "Smallest order": lambda g: g["Sales"].min(),
    "Returns": lambda g: float((g["Returned"] == 1).sum()),
    "Cost": lambda g: g["Sales"].sum() - g["Profit"].sum(),
    "Cost share": lambda g: (g["Sales"].sum() - g["Profit"].sum()) / g["Sales"].sum(),
}


@pytest.mark.parametrize("kind", ["period", "mtd", "qtd", "ytd", "last-12", "all"])
def test_windows_of_sums_ratios_min_max_come_from_the_daily_parts(
    data_file: Path, orders, kind: str
) -> None:
    """Once the per-day parts are computed, every window's actuals (and last year's) of
    sums, counts, sums and differences of them, their ratios, min and max come without
    touching the data: the connection is closed, and the figures equal pandas over the
    window's rows."""
    kpis = kpis_from_yaml(DERIVED)
    connection = sandboxed_connection(allowed_dirs=[data_file.parent])
    load_file(connection, data_file, "orders")
    daily = scorecard.daily_parts(connection, "orders", kpis)
    spans = scorecard.spans(connection, "orders", kpis, scorecard.WindowChoice(kind=kind))
    connection.close()
    assert set(daily.recipes) == {k.name for k in kpis}
    found = scorecard.window_actuals(None, "orders", kpis, spans, daily=daily)
    span = spans["Sales"]
    assert span is not None
    now = between(orders, span.start, span.end)
    before = None
    if kind != "all":
        before = between(orders, span.last_year().start, span.last_year().end)
    for kpi in kpis:
        measure = PANDAS_MEASURES[kpi.name]

        def expect(rows: pd.DataFrame, kpi=kpi, measure=measure) -> float:
            kept = rows[rows["Returned"] == 1] if kpi.filter else rows
            return measure(rows) if len(kept) else math.nan  # no rows: missing, not 0

        rows = rows_by(found, kpi.name)
        assert rows[None]["actual"] == pytest.approx(expect(now)), kpi.name
        if kpi.by:
            kept = now[now["Returned"] == 1] if kpi.filter else now
            assert set(rows) - {None} == set(kept["Region"]), kpi.name
            for region, part in kept.groupby("Region"):
                assert rows[region]["actual"] == pytest.approx(expect(part)), (kpi.name, region)
        if before is not None:
            assert rows[None]["last_year"] == pytest.approx(expect(before), nan_ok=True)


def test_a_distinct_count_over_a_new_window_is_a_query(con) -> None:
    """A distinct count has no per-day parts: it is queried, and the scorecard with the
    per-day parts equals the scorecard without them."""
    kpis = kpis_from_yaml(KPIS)
    daily = scorecard.daily_parts(con, "orders", kpis)
    assert "Customers" not in daily.recipes
    choice = scorecard.WindowChoice(kind="qtd")
    spans = scorecard.spans(con, "orders", kpis, choice)
    with_parts = scorecard.window_actuals(con, "orders", kpis, spans, daily=daily)
    queried = scorecard.window_actuals(con, "orders", kpis, spans)
    assert [(r["kpi"], r["category"]) for r in with_parts] == [
        (r["kpi"], r["category"]) for r in queried
    ]
    for a, b in zip(with_parts, queried, strict=True):
        assert a["actual"] == pytest.approx(b["actual"], nan_ok=True)
        assert a["last_year"] == pytest.approx(b["last_year"], nan_ok=True)
