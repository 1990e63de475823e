"""Starter KPIs on generated exports of five kinds: which KPIs, which column roles, never a sum
over a ratio or an id column, every KPI computes, and targets equal their rule computed here
in pandas; the command line prints the same set."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from kpi_logic import ingest, suggest
from kpi_logic.column_roles import table_roles
from kpi_logic.kpi_file import kpis_from_yaml
from kpi_logic.model import KPI
from kpi_logic.sql import sandboxed_connection
from tests import frames
from tests.test_cli import run as run_cli

ROOT = Path(__file__).resolve().parent.parent
DAYS = pd.date_range("2021-01-01", "2023-12-31", freq="D")
REGIONS = ["West", "East", "Central", "South"]


def orders_export(seed: int = 7) -> pd.DataFrame:
    """A Superstore-like orders export: one row per order line, three years."""
    rng = np.random.default_rng(seed)
    n_orders = 2500
    order_days = rng.choice(DAYS, n_orders) + pd.to_timedelta(0, "D")
    lines = rng.integers(1, 4, n_orders)
    order = np.repeat(np.arange(n_orders), lines)
    rows = len(order)
    day = pd.Series(np.repeat(order_days, lines))
    growth = 1 + 0.15 * (day.dt.year - 2021).to_numpy()
    sales = (rng.gamma(2.0, 120.0, rows) * growth).round(2)
    discount = rng.choice([0.0, 0.0, 0.1, 0.2, 0.3, 0.5], rows)
    profit = (sales * (rng.uniform(0.05, 0.35, rows) - discount * 0.6)).round(2)
    customers = rng.integers(0, 400, n_orders)[order]
    states = [f"State {i}" for i in range(35)]
    return pd.DataFrame(
        {
            "Row ID": np.arange(1, rows + 1),
            "Order ID": [f"CA-{d.year}-{100000 + o}" for d, o in zip(day, order, strict=True)],
            "Order Date": day,
            "Ship Date": day + pd.to_timedelta(rng.integers(1, 7, rows), "D"),
            "Ship Mode": rng.choice(["Standard Class", "Second Class", "First Class"], rows),
            "Customer ID": [f"CU-{c:05d}" for c in customers],
            "Customer Name": [f"Customer {c}" for c in customers],
            "Segment": rng.choice(["Consumer", "Corporate", "Home Office"], rows),
            "Country": "United States",
            "State": rng.choice(states, rows),
            "Postal Code": rng.integers(10000, 99999, rows),
            "Region": rng.choice(REGIONS, rows, p=[0.35, 0.3, 0.2, 0.15]),
            "Category": rng.choice(["Furniture", "Office Supplies", "Technology"], rows),
            "Sales": sales,
            "Quantity": rng.integers(1, 10, rows),
            "Discount": discount,
            "Profit": profit,
            "Profit Ratio": (profit / sales).round(4),
        }
    )


def formatted(frame: pd.DataFrame) -> pd.DataFrame:
    """The same orders as a BI tool exports them: "$1,706.18", "-$12.50", "16%", m/d/Y."""
    out = frame.copy()
    for column in ("Sales", "Profit"):
        out[column] = [f"-${-v:,.2f}" if v < 0 else f"${v:,.2f}" for v in frame[column]]
    for column in ("Discount", "Profit Ratio"):
        out[column] = [f"{v * 100:g}%" for v in frame[column]]
    for column in ("Order Date", "Ship Date"):
        out[column] = [f"{d.month}/{d.day}/{d.year}" for d in frame[column]]
    return out


def tickets_export(seed: int = 11) -> pd.DataFrame:
    """A help desk's tickets: resolved ones have a resolution date and hours, open ones not."""
    rng = np.random.default_rng(seed)
    rows = 6000
    created = pd.Series(rng.choice(DAYS, rows)).sort_values(ignore_index=True)
    hours = rng.gamma(2.0, 9.0, rows).round(1)
    open_ = (rng.uniform(size=rows) < 0.08) | (created > pd.Timestamp("2023-12-20"))
    resolved = (created + pd.to_timedelta(hours, "h")).dt.normalize().where(~open_)
    return pd.DataFrame(
        {
            "Ticket ID": [f"T-{i:06d}" for i in range(rows)],
            "Created": created,
            "Resolved": resolved,
            "Priority": rng.choice(["Low", "Medium", "High", "Urgent"], rows),
            "Channel": rng.choice(["Email", "Phone", "Chat"], rows),
            "Agent": rng.choice([f"Agent {i}" for i in range(12)], rows),
            "Status": np.where(open_, "Open", "Closed"),
            "Resolution Hours": pd.Series(hours).where(~open_),
            "CSAT": pd.Series(rng.integers(1, 6, rows)).where(
                ~open_ & (rng.uniform(size=rows) < 0.6)
            ),
        }
    )


def hr_export(seed: int = 5) -> pd.DataFrame:
    """A monthly HR report: headcount, hires and leavers per department and location."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2021-01-01", "2023-12-01", freq="MS")
    rows = []
    for month in months:
        for department in ("Sales", "Engineering", "Support", "Finance", "Operations"):
            for location in ("Berlin", "London", "Austin"):
                headcount = int(rng.integers(20, 80))
                rows.append(
                    {
                        "Month": month,
                        "Department": department,
                        "Location": location,
                        "Headcount": headcount,
                        "Hires": int(rng.poisson(2)),
                        "Leavers": int(rng.poisson(1.5)),
                        "Absence Days": int(rng.poisson(headcount * 0.8)),
                    }
                )
    return pd.DataFrame(rows)


def marketing_export(seed: int = 3) -> pd.DataFrame:
    """Daily campaign results per channel."""
    rng = np.random.default_rng(seed)
    rows = []
    for day in DAYS[::3]:
        for campaign in ("Spring", "Summer", "Brand", "Retarget"):
            for channel in ("Search", "Social", "Display", "Email"):
                impressions = int(rng.integers(1000, 20000))
                clicks = int(impressions * rng.uniform(0.005, 0.05))
                leads = int(clicks * rng.uniform(0.05, 0.3))
                rows.append(
                    {
                        "Date": day,
                        "Campaign": campaign,
                        "Channel": channel,
                        "Impressions": impressions,
                        "Clicks": clicks,
                        "Leads": leads,
                        "Conversions": int(leads * rng.uniform(0.05, 0.4)),
                        "Spend": round(float(rng.uniform(50, 900)), 2),
                    }
                )
    return pd.DataFrame(rows)


# What each export should get: KPI name -> measure; then the roles.
EXPECTED = {
    "orders": {
        "Revenue": 'sum("Sales")',
        "Profit": 'sum("Profit")',
        "Profit margin": 'sum("Profit") / sum("Sales")',
        "Orders": 'count_distinct("Order ID")',
        "Customers": 'count_distinct("Customer ID")',
        "Units sold": 'sum("Quantity")',
        "Average order value": 'sum("Sales") / count_distinct("Order ID")',
        "Average discount": 'avg("Discount")',
    },
    "tickets": {
        "Tickets": 'count_distinct("Ticket ID")',
        "Resolution time": 'avg("Resolution Hours")',
        "Backlog": 'count(*) - count("Resolved")',
        "Satisfaction": 'avg("CSAT")',
    },
    "hr": {
        "Headcount": '(sum("Headcount") / count_distinct("Month"))',
        "Hires": 'sum("Hires")',
        "Staff turnover": 'sum("Leavers") / (sum("Headcount") / count_distinct("Month"))',
    },
    "marketing": {
        "Leads": 'sum("Leads")',
        "Conversion rate": 'sum("Conversions") / sum("Leads")',
        "Cost per lead": 'sum("Spend") / sum("Leads")',
        "Customer acquisition cost": 'sum("Spend") / sum("Conversions")',
        "Click-through rate": 'sum("Clicks") / sum("Impressions")',
        "Marketing spend": 'sum("Spend")',
    },
}
EXPECTED["formatted"] = EXPECTED["orders"]
ROLES = {  # time, by, ids, columns never summed
    "orders": ("Order Date", "Region", {"order": "Order ID", "customer": "Customer ID"},
               {"Row ID", "Postal Code", "Order ID", "Customer ID", "Discount", "Profit Ratio"}),
    "tickets": ("Created", "Channel", {"ticket": "Ticket ID"}, {"Ticket ID"}),
    "hr": ("Month", "Location", {}, set()),
    "marketing": ("Date", "Channel", {}, set()),
}  # fmt: skip
ROLES["formatted"] = ROLES["orders"]
LOWER = {"Average discount", "Resolution time", "Backlog", "Tickets", "Staff turnover"}
LOWER |= {"Cost per lead", "Customer acquisition cost", "Marketing spend"}
FRAMES = {
    "orders": orders_export,
    "formatted": lambda: formatted(orders_export()),
    "tickets": tickets_export,
    "hr": hr_export,
    "marketing": marketing_export,
}


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("exports")
    paths = {}
    for kind, make in FRAMES.items():
        paths[kind] = folder / f"{kind}.csv"
        make().to_csv(paths[kind], index=False, date_format="%Y-%m-%d")
    return paths


def loaded(path: Path) -> duckdb.DuckDBPyConnection:
    con = sandboxed_connection(allowed_dirs=[path.parent])
    ingest.load_file(con, path, "t")
    return con


@pytest.mark.parametrize("kind", list(FRAMES))
def test_each_export_gets_its_kpis_and_roles(kind: str, exports: dict[str, Path]) -> None:
    con = loaded(exports[kind])
    roles = table_roles(con, "t")
    time, by, ids, never_summed = ROLES[kind]
    assert (roles.time, roles.by, roles.ids) == (time, by, ids)
    assert never_summed <= set(roles.ratios) | set(roles.id_like)
    kpis = suggest.suggest_kpis(con, "t")
    assert {k.name: k.measure for k in kpis} == EXPECTED[kind]
    assert {k.name for k in kpis if k.direction == "lower"} == LOWER & set(EXPECTED[kind])
    assert {(k.time, k.by) for k in kpis} == {(time, by)}
    for kpi in kpis:
        for column in never_summed:
            assert f'sum("{column}"' not in kpi.measure
            assert f'"{column}" *' not in kpi.measure
    result = frames.aggregate(con, "t", kpis)  # every KPI computes, all in one go
    assert set(result["kpi"]) == set(EXPECTED[kind])
    assert result.groupby("kpi")["actual"].count().min() > 0


def test_exact_names_beat_longer_ones_and_ratio_parts_beat_averages(
    exports: dict[str, Path],
) -> None:
    con = loaded(exports["formatted"])
    roles = table_roles(con, "t")
    assert roles.measures["profit"] == "Profit"  # not "Profit Ratio"
    assert roles.measures["margin"] == "Profit Ratio"  # known, but its parts are used
    assert "Ship Date" not in (roles.time, roles.by)
    con.execute('ALTER TABLE t DROP COLUMN "Profit"')
    kpis = {k.name: k.measure for k in suggest.suggest_kpis(con, "t")}
    assert kpis["Profit margin"] == 'sum("Sales" * "Profit Ratio") / sum("Sales")'
    assert "Profit" not in kpis


def month_series(
    frame: pd.DataFrame, time: str, by: str | None = None
) -> pd.core.groupby.DataFrameGroupBy:
    month = frame[time].dt.to_period("M").dt.start_time.rename("period")
    keys = [month] if by is None else [frame[by], month]
    return frame.groupby(keys)


def grown_rule(monthly: pd.Series, latest: pd.Timestamp) -> float:
    """Same month last year x (sum of the 3 months before latest / the same 3 a year earlier)."""
    at = lambda months: monthly[latest - pd.DateOffset(months=months)]  # noqa: E731
    recent = sum(at(k) for k in (1, 2, 3))
    before = sum(at(12 + k) for k in (1, 2, 3))
    return max(0.0, at(12) * recent / before)


def median_rule(monthly: pd.Series, latest: pd.Timestamp) -> float:
    """Median of the 12 months before latest."""
    return max(0.0, float(monthly[monthly.index < latest].dropna().iloc[-12:].median()))


def test_targets_follow_the_stated_rules(exports: dict[str, Path]) -> None:
    frame = orders_export()
    found = {s.kpi.name: s for s in suggest.suggest(loaded(exports["orders"]), "t")}
    latest = pd.Timestamp("2023-12-01")
    volume = {
        "Revenue": lambda g: g["Sales"].sum(),
        "Orders": lambda g: g["Order ID"].nunique(),
        "Units sold": lambda g: g["Quantity"].sum(),
    }
    for name, of in volume.items():
        kpi = found[name].kpi
        monthly = of(month_series(frame, "Order Date"))
        assert kpi.target.total == pytest.approx(grown_rule(monthly, latest)), name
        per_region = of(month_series(frame, "Order Date", "Region"))
        expected = {r: grown_rule(per_region[r], latest) for r in REGIONS}
        assert kpi.target.by_category == pytest.approx(expected), name
        assert "same month last year (Dec 2022)" in found[name].rule
        assert found[name].current == pytest.approx(monthly[latest])
        assert (kpi.bands.good, kpi.bands.warning) == (1.0, 0.9)
    sums = month_series(frame, "Order Date")[["Profit", "Sales"]].sum()
    margin = found["Profit margin"]
    assert margin.kpi.target.total == pytest.approx(
        median_rule(sums["Profit"] / sums["Sales"], latest)
    )
    assert margin.rule == "median of the 12 months before Dec 2023 (from Dec 2022)"
    assert (margin.kpi.bands.good, margin.kpi.bands.warning) == (1.0, 0.95)
    assert margin.rule in margin.kpi.description
    discount = month_series(frame, "Order Date")["Discount"].mean()
    assert found["Average discount"].kpi.target.total == pytest.approx(
        median_rule(discount, latest)
    )


def test_short_history_falls_back_to_the_median_and_no_dates_to_no_target(tmp_path: Path) -> None:
    con = sandboxed_connection(allowed_dirs=[tmp_path])
    con.execute(
        "CREATE TABLE t AS SELECT DATE '2024-01-01' + INTERVAL (i * 3) DAY AS \"Day\", "
        "['a', 'b'][i % 2 + 1] AS \"Team\", (i % 7 + 1) * 10.0 AS \"Revenue\" "
        "FROM range(120) r(i)"  # a year: too short for last year's month
    )
    frame = con.execute("SELECT * FROM t").df()
    [revenue] = suggest.suggest(con, "t")
    monthly = month_series(frame, "Day")["Revenue"].sum()
    latest = monthly.index.max()
    assert revenue.kpi.target.total == pytest.approx(median_rule(monthly, latest))
    assert revenue.rule.startswith(f"median of the {len(monthly) - 1} months before")
    con.execute('ALTER TABLE t DROP COLUMN "Day"')
    [undated] = suggest.suggest(con, "t")
    assert undated.kpi.target.is_empty()
    assert undated.current == pytest.approx(frame["Revenue"].sum())
    assert "set a target by hand" in undated.rule


def test_levels_are_averaged_over_dates_not_summed(exports: dict[str, Path]) -> None:
    frame = hr_export()
    found = {s.kpi.name: s for s in suggest.suggest(loaded(exports["hr"]), "t")}
    last = frame[frame["Month"] == frame["Month"].max()]
    assert found["Headcount"].current == pytest.approx(last["Headcount"].sum())
    turnover = last["Leavers"].sum() / last["Headcount"].sum()
    assert found["Staff turnover"].current == pytest.approx(turnover)


def test_cli_prints_the_same_set_with_targets(exports: dict[str, Path]) -> None:
    result = run_cli("suggest", exports["formatted"])
    assert result.returncode == 0, result.stderr
    printed = kpis_from_yaml(result.stdout)
    expected: list[KPI] = suggest.suggest_kpis(loaded(exports["formatted"]), "t")
    assert printed == expected
    assert len(printed) >= 5
    assert all(k.target.total is not None and k.target.total > 0 for k in printed)
    assert re.search(r"Starting target: same month last year", result.stdout)


def test_the_app_offers_the_suggestions_after_an_upload_and_saves_the_kept_ones(
    store_path: Path, tmp_path: Path
) -> None:
    from tests.test_app import rerun, start

    path = tmp_path / "orders.csv"
    formatted(orders_export()).to_csv(path, index=False)
    at = start(store_path)
    at.switch_page("pages/data.py")
    rerun(at)
    at.get("file_uploader")[0].set_value(("orders.csv", path.read_bytes(), "text/csv"))
    rerun(at)
    assert "Start with these KPIs" in [h.value for h in at.subheader]
    names = {w.value: w for w in at.text_input if w.key.startswith("suggested_")}
    assert set(names) == set(EXPECTED["formatted"])
    keep = {name: at.checkbox(key=w.key.replace("_name", "_keep")) for name, w in names.items()}
    keep["Average discount"].uncheck()
    names["Revenue"].set_value("Sales")
    at.number_input(key=names["Orders"].key.replace("_name", "_target")).set_value(321.0)
    rerun(at)
    at.button(key="save_suggested").click()
    rerun(at)
    shown = [m.label for m in at.metric]
    assert len(shown) == len(EXPECTED["formatted"]) - 1
    assert "Sales" in shown
    assert "Average discount" not in shown
    assert not any(h.value == "Start with these KPIs" for h in at.subheader)
    from kpi_logic.kpi_file import kpis_from_yaml as read
    from ui import session

    store = session.store()  # the app's own (one per process)
    cur = store.cursor()
    [dataset] = [d for d in store.list_datasets(cur) if d.source_name == "orders.csv"]
    [kpi_set] = store.list_kpi_sets(cur, dataset.id)
    saved = {k.name: k for k in read(kpi_set.yaml_text)}
    assert saved["Orders"].target.total == 321.0  # typed on the card
    assert saved["Sales"].measure == 'sum("Sales")'
    proposed = {k.name: k for k in suggest.suggest_kpis(loaded(path), "t")}
    assert saved["Profit"].target == proposed["Profit"].target  # as proposed, categories too


@pytest.mark.browser
def test_a_new_user_gets_kpis_with_targets_in_one_click(
    app_url: str, browser: Any, tmp_path: Path
) -> None:
    from tests.test_browser import CARD_STATUSES_JS, TIMEOUT_MS, card_statuses, wait_for_app

    path = tmp_path / "Superstore orders.csv"
    formatted(orders_export()).to_csv(path, index=False)
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(f"{app_url}/data")
    wait_for_app(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(path))
    page.get_by_text("Start with these KPIs").wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page)
    save = page.get_by_role("button", name=re.compile(r"Save \d+ KPIs to the dashboard"))
    save.click()  # the one click
    page.wait_for_url(lambda url: "/data" not in url, timeout=TIMEOUT_MS)  # the dashboard
    page.wait_for_function(  # every card drawn (the run's end can show before)
        f"() => Object.keys(({CARD_STATUSES_JS})()).length === {len(EXPECTED['formatted'])}",
        timeout=TIMEOUT_MS,
    )
    statuses = card_statuses(page)
    assert set(statuses) == set(EXPECTED["formatted"])
    assert all(s in ("On target", "At risk", "Off target") for s in statuses.values()), statuses
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()
