"""compute.aggregate and score.score against independent pandas computations.

The data is generated with a seeded random, written to a real Parquet file and loaded with
``ingest.load_file``, as the app does.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from kpi_logic import compute, ingest, score
from kpi_logic.errors import DataReadError, ExpressionError, KPIDefinitionError
from kpi_logic.model import KPI, Bands, Target
from kpi_logic.sql import sandboxed_connection
from tests import frames

REGIONS = ["East", "North", "South", "West"]


def orders_frame(rows: int = 4000, seed: int = 7) -> pd.DataFrame:
    """Orders over 2023; South has no rows in March; Segment B never sells in West in May."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "Order Date": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 365, rows), unit="D"),
            "Region": rng.choice(REGIONS, rows, p=[0.55, 0.25, 0.15, 0.05]),
            "Segment": rng.choice(["Consumer", "Corporate"], rows),
            "Sales": rng.gamma(2.0, 150.0, rows).round(2),
            "Customer ID": rng.integers(1, 300, rows),
        }
    )
    # margins differ a lot per region, so averaging per-region ratios is visibly wrong
    margin = frame["Region"].map({"East": 0.05, "North": 0.1, "South": 0.6, "West": 0.6})
    frame["Profit"] = (frame["Sales"] * (margin + rng.normal(0, 0.05, rows))).round(2)
    march = frame["Order Date"].dt.month == 3
    frame = frame[~(march & (frame["Region"] == "South"))]
    may_west = (frame["Order Date"].dt.month == 5) & (frame["Region"] == "West")
    frame.loc[may_west, "Segment"] = "Consumer"
    frame["Order Date"] = frame["Order Date"].dt.date
    return frame.reset_index(drop=True)


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return orders_frame()


@pytest.fixture(scope="module")
def con(orders: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("orders")
    path = folder / "orders.parquet"
    orders.to_parquet(path, index=False)
    connection = sandboxed_connection(allowed_dirs=[folder])
    ingest.load_file(connection, path, "orders")
    yield connection
    connection.close()


def month(frame: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(frame["Order Date"]).dt.to_period("M").dt.start_time.dt.date


def actuals(agg: pd.DataFrame, kpi: str, *, totals: bool = False) -> pd.Series:
    """Actual per (category, period) of one KPI, or per period for the total rows."""
    rows = agg[agg["kpi"] == kpi]
    if totals:
        return rows[rows["category"].isna()].set_index("period")["actual"]
    return rows[rows["category"].notna()].set_index(["category", "period"])["actual"]


def expected_by(frame: pd.DataFrame, keys: list, func) -> pd.Series:
    return frame.assign(period=month(frame)).groupby(keys).apply(func, include_groups=False)


SALES = KPI("Sales", 'sum("Sales")', time="Order Date", by="Region")
MARGIN = KPI("Margin", 'sum("Profit") / sum("Sales")', time="Order Date", by="Region")
CUSTOMERS = KPI("Customers", 'count_distinct("Customer ID")', time="Order Date", by="Region")
ORDERS = KPI("Orders", 'count("Sales")', time="Order Date", by="Region")


def test_sums_per_category_and_period_and_totals(con, orders: pd.DataFrame) -> None:
    agg = frames.aggregate(con, "orders", [SALES])
    cells = expected_by(orders, ["Region", "period"], lambda g: g["Sales"].sum())
    pd.testing.assert_series_equal(
        actuals(agg, "Sales").sort_index(),
        cells.sort_index(),
        check_names=False,
        check_index_type=False,
    )
    totals = expected_by(orders, ["period"], lambda g: g["Sales"].sum())
    pd.testing.assert_series_equal(
        actuals(agg, "Sales", totals=True), totals, check_names=False, check_index_type=False
    )
    assert set(agg["as_of"]) == {orders["Order Date"].max()}
    assert all(type(p) is date for p in agg["period"])


def test_ratio_of_sums_never_an_average_of_ratios(con, orders: pd.DataFrame) -> None:
    agg = frames.aggregate(con, "orders", [MARGIN])
    ratio = expected_by(orders, ["period"], lambda g: g["Profit"].sum() / g["Sales"].sum())
    got = actuals(agg, "Margin", totals=True)
    np.testing.assert_allclose(got.to_numpy(), ratio.to_numpy())
    cells = expected_by(
        orders, ["Region", "period"], lambda g: g["Profit"].sum() / g["Sales"].sum()
    )
    np.testing.assert_allclose(actuals(agg, "Margin").sort_index().to_numpy(), cells.to_numpy())
    # the trap: the mean of per-region ratios is far from the real total ratio
    mean_of_ratios = cells.groupby(level="period").mean()
    assert (abs(mean_of_ratios - ratio) > 0.05).all()
    whole = frames.aggregate(con, "orders", [KPI("M", 'sum("Profit") / sum("Sales")')])
    assert whole["actual"].iloc[0] == pytest.approx(orders["Profit"].sum() / orders["Sales"].sum())


def test_distinct_counts_recomputed_for_totals(con, orders: pd.DataFrame) -> None:
    agg = frames.aggregate(con, "orders", [CUSTOMERS])
    totals = expected_by(orders, ["period"], lambda g: g["Customer ID"].nunique())
    assert actuals(agg, "Customers", totals=True).tolist() == totals.astype(float).tolist()
    summed = actuals(agg, "Customers").groupby(level="period").sum()
    assert (summed > totals).all()


def test_totals_of_sums_counts_min_max_from_categories(tmp_path: Path) -> None:
    """A group of sums, counts, minimums and maximums gets its all-categories rows from the
    category rows (no grouping set): equal to pandas over all rows, empty cells included."""
    frame = pd.DataFrame(
        {
            "day": [date(2024, 1, d) for d in (3, 4, 5, 6, 7)] + [date(2024, 2, 1)] * 3,
            "region": ["East", "West", None, "East", "West", "East", "West", "South"],
            "amount": [10.5, None, 3.0, -2.0, 8.0, None, None, None],
        }
    )
    con = duckdb.connect()
    con.register("source", frame)
    con.execute("CREATE TABLE t AS SELECT * FROM source")
    measures = {
        "Sum": ('sum("amount")', lambda s: s.sum(min_count=1)),  # SQL: all empty is empty
        "Count": ('count("amount")', "count"),
        "Min": ('min("amount")', "min"),
        "Max": ('max("amount")', "max"),
    }
    kpis = [KPI(n, m, time="day", by="region") for n, (m, _) in measures.items()]
    sql = compute.aggregate_sql("t", kpis, compute.table_columns(con, "t"))
    assert len(sql) == 1
    assert "GROUPING SETS" not in sql[0][0]
    records = compute.aggregate_records(con, "t", kpis)
    months = pd.to_datetime(frame["day"]).dt.to_period("M").dt.start_time.dt.date
    for name, (_, function) in measures.items():
        want = frame.groupby(months)["amount"].agg(function)
        got = {
            r["period"]: r["actual"] for r in records if r["kpi"] == name and r["category"] is None
        }
        assert set(got) == set(want.index)
        for period, value in want.items():
            assert got[period] == pytest.approx(value, nan_ok=True), (name, period)
    assert not [
        r for r in compute.aggregate_records(con, "t", kpis, totals=False) if r["category"] is None
    ]
    with_ratio = [*kpis, KPI("Avg", 'avg("amount")', time="day", by="region")]
    assert (
        "GROUPING SETS"
        in compute.aggregate_sql("t", with_ratio, compute.table_columns(con, "t"))[0][0]
    )


def test_one_query_per_time_grain_by_and_filter(con) -> None:
    calls = []

    class Spy:
        def execute(self, sql: str, params: object = None):
            calls.append(sql)
            return con.execute(sql, params)

    filtered = KPI("Corp", 'sum("Sales")', filter="Segment = 'Corporate'", time="Order Date")
    kpis = [SALES, MARGIN, CUSTOMERS, ORDERS, filtered, KPI("All", 'sum("Sales")')]
    agg = frames.aggregate(Spy(), "orders", kpis)
    assert len(calls) == 1 + 3  # DESCRIBE, then three groups
    assert "GROUPING SETS" in calls[1]
    assert agg["kpi"].unique().tolist() == [k.name for k in kpis]


def test_filter_applies_to_every_aggregate(con, orders: pd.DataFrame) -> None:
    corp = orders[orders["Segment"] == "Corporate"]
    kpis = [
        KPI("Corp sales", 'sum("Sales")', filter="Segment = 'Corporate'", time="Order Date"),
        KPI(
            "Corp margin",
            'sum("Profit") / sum("Sales")',
            filter="Segment = 'Corporate'",
            time="Order Date",
        ),
    ]
    kpis.append(KPI("Corp rows", "count(*)", filter="Segment = 'Corporate'", time="Order Date"))
    agg = frames.aggregate(con, "orders", kpis)
    sales = expected_by(corp, ["period"], lambda g: g["Sales"].sum())
    ratio = expected_by(corp, ["period"], lambda g: g["Profit"].sum() / g["Sales"].sum())
    rows = expected_by(corp, ["period"], len)
    np.testing.assert_allclose(actuals(agg, "Corp sales", totals=True).to_numpy(), sales)
    np.testing.assert_allclose(actuals(agg, "Corp margin", totals=True).to_numpy(), ratio)
    np.testing.assert_allclose(actuals(agg, "Corp rows", totals=True).to_numpy(), rows)


def test_missing_is_not_zero_except_for_counts(con) -> None:
    corporate = "Segment = 'Corporate'"
    kpis = [
        SALES,
        ORDERS,
        KPI("Corp orders", 'count("Sales")', filter=corporate, time="Order Date", by="Region"),
        KPI("Corp sales", 'sum("Sales")', filter=corporate, time="Order Date", by="Region"),
    ]
    agg = frames.aggregate(con, "orders", kpis)
    march, may = date(2023, 3, 1), date(2023, 5, 1)
    # South has no rows at all in March
    assert ("South", march) not in actuals(agg, "Sales").index
    assert actuals(agg, "Orders")["South", march] == 0
    assert actuals(agg, "Corp orders")["South", march] == 0
    # West has rows in May, none of them Corporate
    assert actuals(agg, "Corp orders")["West", may] == 0
    assert np.isnan(actuals(agg, "Corp sales").get(("West", may), np.nan))
    assert actuals(agg, "Sales")["West", may] > 0


def test_count_of_rows_alone(con, orders: pd.DataFrame) -> None:
    """A measure that reads no column (count(*) without time or category) counts the rows."""
    kpis = [KPI("Rows", "count(*)"), KPI("Corp rows", "count(*)", filter="Segment = 'Corporate'")]
    agg = frames.aggregate(con, "orders", kpis)
    assert agg["actual"].tolist() == [len(orders), (orders["Segment"] == "Corporate").sum()]


def test_date_range_and_categories_are_bound_filters(con, orders: pd.DataFrame) -> None:
    start, end = date(2023, 2, 10), date(2023, 4, 20)
    picked = ["East", 'O\'Brien "quoted"']
    agg = frames.aggregate(con, "orders", [SALES], start=start, end=end, categories=picked)
    inside = orders[(orders["Order Date"] >= start) & (orders["Order Date"] <= end)]
    east = inside[inside["Region"] == "East"]
    assert set(agg["category"].dropna()) == {"East"}
    expected = expected_by(east, ["period"], lambda g: g["Sales"].sum())
    np.testing.assert_allclose(actuals(agg, "Sales", totals=True).to_numpy(), expected)
    by_mapping = frames.aggregate(
        con, "orders", [KPI("All", 'sum("Sales")')], categories={"region": ["East", "West"]}
    )
    chosen = orders["Region"].isin(["East", "West"])
    assert by_mapping["actual"].iloc[0] == pytest.approx(orders.loc[chosen, "Sales"].sum())


def test_blank_categories_are_named(tmp_path: Path) -> None:
    con = sandboxed_connection(allowed_dirs=[tmp_path])
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('a', 1.0), (NULL, 2.0)) v(c, x)")
    agg = frames.aggregate(con, "t", [KPI("X", "sum(x)", by="c")])
    assert agg.set_index("category")["actual"].to_dict() == {
        None: 3.0,
        "a": 1.0,
        compute.BLANK_CATEGORY: 2.0,
    }


def test_errors_name_the_kpi(con) -> None:
    with pytest.raises(ExpressionError, match='KPI "Bad"'):
        frames.aggregate(con, "orders", [KPI("Bad", 'sum("Nope")')])
    with pytest.raises(ExpressionError, match='KPI "Bad"'):
        frames.aggregate(con, "orders", [KPI("Bad", 'sum("Sales")', by="Nope")])
    with pytest.raises(KPIDefinitionError, match='KPI "Bad": time column "Region" holds VARCHAR'):
        frames.aggregate(con, "orders", [KPI("Bad", 'sum("Sales")', time="Region")])


# --- score -----------------------------------------------------------------------------


def agg_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["kpi", "category", "period", "actual"])
    frame["as_of"] = None
    frame["additive"] = True
    return frame


def test_score_targets_attainment_status_and_change() -> None:
    jan, feb, mar = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)
    kpi = KPI(
        "Sales",
        "sum(x)",
        time="d",
        by="r",
        target=Target(
            default=100,
            by_category={"West": 200},
            by_period={feb: 300},  # the total's February target
            by_category_period={("East", feb): 50, ("West", mar): 400},
            total=250,
        ),
        bands=Bands(good=1.0, warning=0.8),
    )
    agg = agg_frame(
        [
            ("Sales", None, jan, 240.0),
            ("Sales", None, feb, 45.0),
            ("Sales", "East", jan, 100.0),  # default 100 -> 1.0 on target
            ("Sales", "East", feb, 45.0),  # category+period 50 -> 0.9 at risk
            ("Sales", "East", mar, 70.0),  # default 100 -> 0.7 off target; no Feb... see below
            ("Sales", "West", jan, 170.0),  # category 200 -> 0.85 at risk
            ("Sales", "West", mar, 400.0),  # category+period 400 -> 1.0
            ("Sales", "North", jan, np.nan),  # no data
        ]
    )
    scored = frames.scored(agg, [kpi]).set_index(["category", "period"])
    assert scored.loc[(None, jan), "target"] == 250  # total row: total
    assert scored.loc[(None, feb), "target"] == 300  # a period target of a KPI with by: total's
    # the categories' targets add up, shown beside the total's: Jan East 100 + West 200 +
    # North 100; Feb only East has a row (50)
    assert scored.loc[(None, jan), "allocated"] == 400
    assert scored.loc[(None, feb), "allocated"] == 50
    assert np.isnan(scored.loc[("East", jan), "allocated"])
    assert scored.loc[("East", jan), ["target", "attainment", "status"]].tolist() == [
        100,
        1.0,
        "on target",
    ]
    assert scored.loc[("East", feb), "target"] == 50
    assert scored.loc[("East", feb), "attainment"] == pytest.approx(0.9)
    assert scored.loc[("East", feb), "status"] == "at risk"
    assert scored.loc[("East", mar), "status"] == "off target"
    assert scored.loc[("West", jan), "status"] == "at risk"
    assert scored.loc[("West", mar), ["target", "status"]].tolist() == [400, "on target"]
    assert scored.loc[("North", jan), "status"] == "no data"
    # previous is the calendar period before, same category
    assert scored.loc[("East", feb), ["previous", "change"]].tolist() == [100, -55]
    assert scored.loc[("East", feb), "change_pct"] == pytest.approx(-0.55)
    assert scored.loc[("East", mar), "previous"] == 45
    assert np.isnan(scored.loc[("West", mar), "previous"])  # West has no February
    assert set(frames.scored(agg, [kpi])["status"]) <= set(score.STATUSES)


def test_score_lower_is_better_and_no_target() -> None:
    lower = KPI("Cost", "sum(x)", direction="lower", target=Target(default=50))
    none = KPI("Free", "sum(x)")
    zero = KPI("Zero", "sum(x)", target=Target(default=0))
    agg = agg_frame(
        [
            ("Cost", None, None, 40.0),
            ("Free", None, None, 40.0),
            ("Zero", None, None, 40.0),
        ]
    )
    scored = frames.scored(agg, [lower, none, zero]).set_index("kpi")
    assert scored.loc["Cost", "attainment"] == pytest.approx(50 / 40)
    assert scored.loc["Cost", "status"] == "on target"
    above = frames.scored(agg.assign(actual=[60.0, 1, 1]), [lower, none, zero]).set_index("kpi")
    assert above.loc["Cost", "attainment"] == pytest.approx(50 / 60)  # 0.83 < 0.9
    assert above.loc["Cost", "status"] == "off target"
    assert frames.scored(agg.assign(actual=[0.0, 1, 1]), [lower, none, zero])["status"][0] == (
        "on target"
    )
    assert scored.loc["Free", "status"] == "no target"
    assert scored.loc["Zero", "status"] == "on target"  # 0 is a target: 40 >= 0
    assert np.isnan(scored.loc["Zero", "attainment"])  # judged by the gap, not divided by 0
    assert np.isnan(scored.loc["Cost", "previous"])


def test_score_end_to_end_with_category_targets(con, orders: pd.DataFrame) -> None:
    kpi = SALES.with_target(20000).with_target(3000, category="West")
    scored = frames.scored(frames.aggregate(con, "orders", [kpi]), [kpi])
    west = scored[scored["category"] == "West"].iloc[0]
    assert west["target"] == 3000
    assert west["attainment"] == pytest.approx(west["actual"] / 3000)
    # no total target: a sum's total is judged on its categories' targets, added up over the
    # categories with rows in that period
    totals = scored[scored["category"].isna()].set_index("period")["target"]
    month = pd.to_datetime(orders["Order Date"]).dt.to_period("M").dt.start_time.dt.date
    present = orders.groupby(month)["Region"].unique()
    expected = {
        p: sum(3000 if r == "West" else 20000 for r in regions) for p, regions in present.items()
    }
    assert totals.to_dict() == expected
    assert 3000 + 20000 * 2 in expected.values()  # South has no March


def test_ratio_over_nothing_is_missing(tmp_path: Path) -> None:
    con = sandboxed_connection(allowed_dirs=[tmp_path])
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1.0, 0.0), (0.0, 0.0)) v(a, b)")
    kpi = KPI("R", "sum(a) / sum(b)", target=Target(1))
    scored = frames.scored(frames.aggregate(con, "t", [kpi]), [kpi])
    assert np.isnan(scored["actual"][0])
    assert scored["status"][0] == "no data"


def test_a_measure_that_fails_in_duckdb_names_the_kpi(con) -> None:
    with pytest.raises(KPIDefinitionError, match='KPI "Text sum" could not be computed: '):
        frames.aggregate(con, "orders", [KPI("Text sum", 'sum("Region")')])


def test_records_are_plain_python_values(con) -> None:
    """The engine's one data shape: dicts of plain values (no pandas types), so the command
    line, scoring, cards and charts read the same records."""
    kpis = [
        SALES.with_target(30_000.0),
        ORDERS.with_target(40.0),
        KPI("Margin", 'sum("Profit") / sum("Sales")', direction="lower", target=Target(0.2)),
    ]
    records = score.score_records(compute.aggregate_records(con, "orders", kpis), kpis)
    assert records
    assert all(list(r) == score.SCORED_COLUMNS for r in records)
    for record in records:
        assert isinstance(record["kpi"], str)
        assert record["category"] is None or isinstance(record["category"], str)
        assert record["period"] is None or type(record["period"]) is date
        assert record["as_of"] is None or type(record["as_of"]) is date
        for key in ("actual", "target", "attainment", "previous", "change", "change_pct"):
            assert type(record[key]) is float, key
        assert record["status"] in score.STATUSES
    assert any(type(r["as_of"]) is date for r in records)


@pytest.mark.parametrize(
    ("actual", "target", "lower", "expected"),
    [
        (90.0, 100.0, False, 0.9),
        (80.0, 100.0, True, 1.25),
        (0.0, 100.0, True, math.inf),  # nothing left to cut
        (-5.0, 100.0, True, math.inf),
        (90.0, 0.0, False, math.nan),
        (math.nan, 100.0, False, math.nan),
        (90.0, math.nan, True, math.nan),
    ],
)
def test_attainment(actual: float, target: float, lower: bool, expected: float) -> None:
    got = score.attainment(actual, target, lower)
    assert got == pytest.approx(expected, nan_ok=True)


def test_errors_say_whose_fault_they_are(tmp_path: Path) -> None:
    """A KPI that asks too much of its column is the KPI's problem; a cell a strict read of the
    file refuses is the data's; neither is mistaken for the other."""
    path = tmp_path / "orders.csv"
    path.write_text("name,amount\nann,1\nbob,2\n" + "cid,3\n" * 3000 + "dan,not a number\n")
    con = duckdb.connect()
    source = con.read_csv(str(path), header=True, dtype={"name": "VARCHAR", "amount": "DOUBLE"})
    source.create_view("orders")
    text_sum = KPI(name="Text", measure='sum("name")')
    with pytest.raises(KPIDefinitionError, match="Text"):
        compute.aggregate_records(con, "orders", [text_sum])
    amount = KPI(name="Amount", measure='sum("amount")')
    with pytest.raises(DataReadError, match="Amount"):
        compute.aggregate_records(con, "orders", [amount])
