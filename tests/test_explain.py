"""explain: contributions to a KPI's gap over real DuckDB, checked against pandas computed
independently over the same rows (generated and the bundled sample), and the CLI."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from kpi_logic import explain
from kpi_logic.kpi_file import kpis_from_yaml
from kpi_logic.model import KPI, Target
from tests.test_cli import run

ROOT = Path(__file__).resolve().parent.parent
REGIONS = ["East", "North", "South", "West"]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = 4000
    revenue = rng.gamma(2.0, 80.0, rows).round(2)
    region = rng.choice(REGIONS, rows, p=[0.2, 0.3, 0.15, 0.35])
    margin = pd.Series(region).map({"East": 0.3, "North": 0.25, "South": 0.2, "West": 0.35})
    return pd.DataFrame(
        {
            "Day": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730, rows), "D"),
            "Region": region,
            "Revenue": revenue,
            "Profit": (revenue * margin.to_numpy() * rng.uniform(0.5, 1.5, rows)).round(2),
        }
    )


@pytest.fixture(scope="module")
def con(frame: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.register("frame", frame)
    connection.execute("CREATE TABLE sales AS SELECT * FROM frame")
    return connection


def month_of(frame: pd.DataFrame) -> pd.Series:
    return frame["Day"].dt.to_period("M").dt.start_time.dt.date


SALES = KPI(
    "Sales",
    'sum("Revenue")',
    time="Day",
    by="Region",
    target=Target(default=5000, by_category={"West": 9000, "East": 4000}, total=25000),
)
MARGIN = KPI(
    "Margin",
    'sum("Profit") / sum("Revenue")',
    unit="percent",
    time="Day",
    by="Region",
    target=Target(default=0.3, by_category={"South": 0.22}, total=0.29),
)


def test_additive_contributions_are_each_categorys_gap(
    con: duckdb.DuckDBPyConnection, frame: pd.DataFrame
) -> None:
    result = explain.explain(con, "sales", SALES, as_of=date(2024, 6, 30))
    june = frame[month_of(frame) == date(2024, 6, 1)]
    actuals = june.groupby("Region")["Revenue"].sum()
    targets = {"East": 4000, "North": 5000, "South": 5000, "West": 9000}
    lines = {line.category: line for line in result.lines}
    for region in REGIONS:
        assert lines[region].actual == pytest.approx(actuals[region])
        assert lines[region].contribution == pytest.approx(actuals[region] - targets[region])
        assert lines[region].contribution == pytest.approx(lines[region].gap)
    rest = lines[explain.UNALLOCATED_LABEL]  # 23,000 allocated of a 25,000 total target
    assert rest.kind == explain.UNALLOCATED
    assert rest.contribution == pytest.approx(23000 - 25000)
    total_gap = june["Revenue"].sum() - 25000
    assert result.gap == pytest.approx(total_gap)
    assert math.fsum(line.contribution for line in result.lines) == pytest.approx(total_gap)
    sizes = [abs(line.contribution) for line in result.lines]
    assert sizes == sorted(sizes, reverse=True)


def test_fully_allocated_total_has_no_rest(con: duckdb.DuckDBPyConnection) -> None:
    kpi = SALES.with_total_target(None)  # the total target is then the categories' sum
    result = explain.explain(con, "sales", kpi, as_of=date(2024, 3, 5))
    assert all(line.kind == explain.CATEGORY for line in result.lines)
    assert result.baseline == 23000
    assert math.fsum(line.contribution for line in result.lines) == pytest.approx(result.gap)


def test_ratio_rate_and_mix_by_hand_on_three_categories() -> None:
    """The module doc's worked example, through real DuckDB: margin = profit / revenue."""
    con = duckdb.connect()
    con.execute(
        """CREATE TABLE t AS SELECT * FROM (VALUES
        ('East', 10.0, 40.0), ('East', 20.0, 60.0), ('West', 40.0, 200.0),
        ('North', 5.0, 50.0), ('North', 15.0, 50.0)) v("Region", "Profit", "Revenue")"""
    )
    kpi = KPI(
        "Margin",
        'sum("Profit") / sum("Revenue")',
        by="Region",
        target=Target(default=0.30, by_category={"West": 0.25}, total=0.30),
    )
    result = explain.explain(con, "t", kpi)
    lines = {line.category: line for line in result.lines}
    # West: share 200/400 = 0.5, margin 0.2 against 0.25, its target 0.05 under the total's
    assert lines["West"].share == pytest.approx(0.5)
    assert lines["West"].rate == pytest.approx(0.5 * (0.20 - 0.25))
    assert lines["West"].mix == pytest.approx(0.5 * (0.25 - 0.30))
    assert lines["West"].contribution == pytest.approx(-0.05)
    # North: share 0.25, margin 0.2 against 0.3, target at the total's: no mix
    assert lines["North"].rate == pytest.approx(-0.025)
    assert lines["North"].mix == pytest.approx(0.0)
    # East: share 0.25, margin 0.3, on its target which is the total's
    assert lines["East"].contribution == pytest.approx(0.0)
    assert result.actual == pytest.approx(90 / 400)
    assert result.gap == pytest.approx(90 / 400 - 0.30)
    assert math.fsum(line.contribution for line in result.lines) == pytest.approx(result.gap)
    assert [line.category for line in result.lines][:2] == ["West", "North"]
    assert explain.reading(result, "percent", "") == (
        "West accounts for -5.0 pp of the -7.5 pp gap to target."
    )


def test_ratio_contributions_add_up_on_generated_data(
    con: duckdb.DuckDBPyConnection, frame: pd.DataFrame
) -> None:
    result = explain.explain(con, "sales", MARGIN, as_of=date(2024, 2, 10))
    feb = frame[(month_of(frame) == date(2024, 2, 1)) & (frame["Day"] <= "2024-02-10")]
    sums = feb.groupby("Region")[["Profit", "Revenue"]].sum()
    total_revenue = sums["Revenue"].sum()
    margin = sums["Profit"].sum() / total_revenue
    assert result.actual == pytest.approx(margin)
    assert result.gap == pytest.approx(margin - 0.29)
    lines = {line.category: line for line in result.lines}
    for region, row in sums.iterrows():
        share = row["Revenue"] / total_revenue
        own = row["Profit"] / row["Revenue"]
        target = 0.22 if region == "South" else 0.3
        line = lines[str(region)]
        assert line.actual == pytest.approx(own)
        assert line.rate == pytest.approx(share * (own - target))
        assert line.mix == pytest.approx(share * (target - 0.29))
        assert line.contribution == pytest.approx(line.rate + line.mix)
    assert math.fsum(line.contribution for line in result.lines) == pytest.approx(result.gap)
    assert math.fsum(line.rate for line in result.lines) + math.fsum(
        line.mix for line in result.lines
    ) == pytest.approx(result.gap)


@pytest.mark.parametrize(
    ("against", "before"),
    [(explain.PREVIOUS, date(2024, 4, 1)), (explain.LAST_YEAR, date(2023, 5, 1))],
)
def test_what_drove_the_change(
    con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, against: str, before: date
) -> None:
    month = month_of(frame)
    now, then = frame[month == date(2024, 5, 1)], frame[month == before]
    additive = explain.explain(con, "sales", SALES, as_of=date(2024, 5, 31), against=against)
    assert additive.baseline_period == before
    change = now.groupby("Region")["Revenue"].sum() - then.groupby("Region")["Revenue"].sum()
    for line in additive.lines:
        assert line.contribution == pytest.approx(change[line.category])
    assert additive.gap == pytest.approx(now["Revenue"].sum() - then["Revenue"].sum())
    assert math.fsum(x.contribution for x in additive.lines) == pytest.approx(additive.gap)

    ratio = explain.explain(con, "sales", MARGIN, as_of=date(2024, 5, 31), against=against)
    s1 = now.groupby("Region")[["Profit", "Revenue"]].sum()
    s0 = then.groupby("Region")[["Profit", "Revenue"]].sum()
    r1 = s1["Profit"].sum() / s1["Revenue"].sum()
    r0 = s0["Profit"].sum() / s0["Revenue"].sum()
    assert ratio.gap == pytest.approx(r1 - r0)
    lines = {line.category: line for line in ratio.lines}
    for region in REGIONS:
        w1 = s1.loc[region, "Revenue"] / s1["Revenue"].sum()
        w0 = s0.loc[region, "Revenue"] / s0["Revenue"].sum()
        own1 = s1.loc[region, "Profit"] / s1.loc[region, "Revenue"]
        own0 = s0.loc[region, "Profit"] / s0.loc[region, "Revenue"]
        assert lines[region].rate == pytest.approx(w1 * (own1 - own0))
        assert lines[region].mix == pytest.approx((w1 - w0) * (own0 - r0))
    assert math.fsum(x.contribution for x in ratio.lines) == pytest.approx(r1 - r0)


def test_not_splittable_and_no_target_are_refused(con: duckdb.DuckDBPyConnection) -> None:
    distinct = KPI("Days", 'count_distinct("Day")', time="Day", by="Region", target=Target(5))
    with pytest.raises(explain.ExplainError, match="does not split"):
        explain.explain(con, "sales", distinct)
    untargeted = KPI("Sales", 'sum("Revenue")', time="Day", by="Region")
    with pytest.raises(explain.ExplainError, match="no target"):
        explain.explain(con, "sales", untargeted)
    assert explain.ratio_parts('sum("a") / count_distinct("b")', ["a", "b"]) is None
    assert explain.ratio_parts('avg("a b")', ["a b"]) == ('sum("a b")', 'count("a b")')
    assert explain.ratio_parts('sum("a") / (sum("b") + sum("c"))', list("abc")) == (
        'sum("a")',
        '(sum("b") + sum("c"))',
    )


@pytest.fixture(scope="module")
def sample() -> tuple[pd.DataFrame, list[KPI]]:
    data = pd.read_csv(ROOT / "data" / "sample_sales.csv", parse_dates=["Date"])
    return data, kpis_from_yaml((ROOT / "data" / "sample_kpis.yaml").read_text())


def test_cli_explain_on_the_sample(sample: tuple[pd.DataFrame, list[KPI]]) -> None:
    data, _ = sample
    out = run(
        "explain",
        ROOT / "data" / "sample_sales.csv",
        "--kpis",
        ROOT / "data" / "sample_kpis.yaml",
        "--kpi",
        "Revenue",
        "--as-of",
        "2024-11-30",
    )
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert list(rows[0]) == ["category", "actual", "target", "gap", "contribution"]
    nov = data[data["Date"].dt.strftime("%Y-%m") == "2024-11"]
    actuals = nov.groupby("Region")["Revenue"].sum()
    targets = {"North": 1_100_000, "South": 900_000, "East": 1_050_000, "West": 1_000_000}
    by_name = {r["category"]: r for r in rows}
    for region, target in targets.items():
        assert float(by_name[region]["contribution"]) == pytest.approx(actuals[region] - target)
    assert float(by_name["(unallocated)"]["contribution"]) == pytest.approx(50_000)
    total = sum(float(r["contribution"]) for r in rows)
    assert total == pytest.approx(nov["Revenue"].sum() - 4_000_000)


def test_cli_explain_ratio_json_and_errors(sample: tuple[pd.DataFrame, list[KPI]]) -> None:
    data, _ = sample
    args = ["explain", ROOT / "data" / "sample_sales.csv", "--kpis"]
    args += [ROOT / "data" / "sample_kpis.yaml"]
    out = run(*args, "--kpi", "Profit Margin", "--format", "json", "--against", "previous")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert set(rows[0]) == {"category", "actual", "target", "gap", "contribution", "rate", "mix"}
    month = data["Date"].dt.strftime("%Y-%m")
    now, then = data[month == "2024-12"], data[month == "2024-11"]

    def margin(rows: pd.DataFrame) -> float:
        return float((rows["Revenue"].sum() - rows["Cost"].sum()) / rows["Revenue"].sum())

    total = sum(r["contribution"] for r in rows)
    assert total == pytest.approx(margin(now) - margin(then))
    for row in rows:
        assert row["rate"] + row["mix"] == pytest.approx(row["contribution"])
    missing = run(*args, "--kpi", "Nope")
    assert missing.returncode == 1
    assert 'No KPI named "Nope"' in missing.stderr
    assert "Traceback" not in missing.stderr
    refused = run(*args, "--kpi", "Staff Turnover")
    assert refused.returncode == 1
    assert "does not split" in refused.stderr
    bad_date = run(*args, "--kpi", "Revenue", "--as-of", "June")
    assert bad_date.returncode == 2
    assert "not a date" in bad_date.stderr
