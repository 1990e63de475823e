"""Connect a table (issue 14): the Data page connects a live PostgreSQL table named in the
secrets; the sidebar builds KPIs on it, the database computes them, Refresh and the
time-to-live decide when they are computed again. AppTest over a real store and the test
run's PostgreSQL; expected figures from pandas over the same rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from kpi_logic import live
from kpi_logic.store import Store
from tests import engine_data as data
from tests.test_app import ROOT, TIMEOUT, chart_data, open_sections, rerun

ROWS = data.orders(300, seed=3)
FRAME = data.frame(ROWS)


def _app(store_path: Path, connections: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.secrets["connections"] = connections
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    at.switch_page("pages/data.py")
    return rerun(at)


def _connect(at: AppTest) -> AppTest:
    assert at.selectbox(key="live_connection").value == "shop"
    assert "shop floor" in at.selectbox(key="live_schema").options
    at.selectbox(key="live_schema").select("shop floor")
    rerun(at)
    assert at.selectbox(key="live_table_pick").options == ["Orders 2024"]
    at.button(key="live_connect").click()
    return rerun(at)


def _monthly_sales(frame) -> list[float]:
    months = [data.period_start(d, "month") for d in frame["Order Date"]]
    return list(frame.assign(m=months).groupby("m")["Sales"].sum().sort_index())


def test_connect_a_postgres_table_build_a_kpi_and_refresh(
    store_path: Path, postgres_url: str
) -> None:
    data.load_postgres(postgres_url, ROWS, "shop floor", "Orders 2024")
    at = _connect(_app(store_path, {"shop": {"url": postgres_url, "ttl": 3600}}))
    assert any(m.body.startswith("**Live table** shop floor.Orders 2024") for m in at.markdown)
    profile = next(f.value for f in at.dataframe if "distinct" in f.value.columns)
    by_column = profile.set_index("column")
    assert by_column.loc["Region", "distinct"] == FRAME["Region"].nunique()
    assert by_column.loc["Region", "nulls"] == FRAME["Region"].isna().sum()
    assert by_column.loc["Order Date", "min"] == str(FRAME["Order Date"].min())
    assert by_column.loc["Qty", "nulls"] == FRAME["Qty"].isna().sum()
    assert f"{len(ROWS):,} rows in the table now" in " ".join(c.value for c in at.caption)
    assert f"{len(ROWS):,} rows" in at.selectbox(key="data_pick").format_func(
        at.selectbox(key="data_pick").value
    )

    at.switch_page("pages/dashboard.py")
    rerun(at)
    assert "Start with these KPIs" not in [h.value for h in at.subheader]  # rows stay there
    at = open_sections(at, "open_add_kpi")
    at.text_input(key="new_name").input("Revenue")
    at.selectbox(key="new_agg").select("sum")
    rerun(at)
    at.selectbox(key="new_col").select("Sales")
    at.selectbox(key="new_time").select("Order Date")
    at.selectbox(key="new_grain").select("month")
    at.selectbox(key="new_by").select("Region")
    at.button(key="add_kpi").click()
    rerun(at)
    trend = chart_data(at, "Trend")
    trend = trend[trend["actual"].notna()].drop_duplicates("period").sort_values("period")
    assert trend["actual"].to_numpy() == pytest.approx(_monthly_sales(FRAME))
    # the dashboard's filters list what the database holds
    regions = sorted(FRAME["Region"].dropna().unique())
    assert at.multiselect(key="filter_Region").options == regions
    assert at.date_input(key="date_range").value == (
        FRAME["Order Date"].min(),
        FRAME["Order Date"].max(),
    )

    # a time window: the database computes it too
    at.selectbox(key="window_pick").select("all")
    rerun(at)
    card = next(m for m in at.metric if m.label == "Revenue")
    assert card.value == f"{FRAME['Sales'].sum() / 1000:.1f}K"
    at.selectbox(key="window_pick").select(None)
    rerun(at)

    # new rows in the database: the kept figures stand until Refresh
    extra = [(date(2024, 3, 1), None, "West", "Online", "O-new", 1000.0, 10.0, 1)]
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(
            'INSERT INTO "shop floor"."Orders 2024" VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
            extra[0],
        )
    rerun(at)
    trend = chart_data(at, "Trend").dropna(subset=["actual"]).drop_duplicates("period")
    assert trend["actual"].max() == pytest.approx(max(_monthly_sales(FRAME)))
    at.switch_page("pages/data.py")
    rerun(at)
    at.button(key="live_refresh").click()
    rerun(at)
    assert f"{len(ROWS) + 1:,} rows in the table now" in " ".join(c.value for c in at.caption)
    at.switch_page("pages/dashboard.py")
    rerun(at)
    trend = chart_data(at, "Trend").dropna(subset=["actual"]).drop_duplicates("period")
    grown = data.frame([*ROWS, *extra])
    assert trend.sort_values("period")["actual"].to_numpy() == pytest.approx(_monthly_sales(grown))


def test_without_connections_or_with_a_database_down_the_page_says_so(
    store_path: Path,
) -> None:
    at = _app(store_path, {})
    assert any(".streamlit/secrets.toml" in c.body for c in at.caption)
    assert any(c.value.startswith("[connections.") for c in at.code)  # an example to copy
    at = _app(store_path, {"shop": {"url": "postgresql://kpi:s3cret@127.0.0.1:1/none"}})
    errors = [e.body.replace("\u2060", "") for e in at.error]  # no autolink: word joiners
    assert any(
        "Could not connect to PostgreSQL at postgresql://127.0.0.1:1/none" in e for e in errors
    )
    assert not any("s3cret" in e for e in errors)


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_the_ttl_window_and_refresh_change_the_cache_key(
    store_path: Path, postgres_url: str, backend: str
) -> None:
    """``live.revision``: an upload's figures are keyed by its content; a live table's by its
    last Refresh and the time-to-live's window. The link is kept in either store (the
    embedded one, or a PostgreSQL team store: here the same database as the live table)."""
    data.load_postgres(postgres_url, ROWS, "shop floor", "orders")
    from kpi_logic import engines
    from kpi_logic.dialects import TableRef

    uploads = store_path.parent / "uploads"
    uploads.mkdir(parents=True)
    url = postgres_url if backend == "postgres" else None
    with (
        Store(store_path, url=url, allowed_dirs=[uploads]) as store,
        engines.connect(postgres_url) as eng,
    ):
        cur = store.cursor()
        dataset_id = live.add_live_dataset(
            store, cur, eng, "shop", TableRef("orders", "shop floor")
        )
        dataset = store.get_dataset(cur, dataset_id)
        assert dataset.rows == len(ROWS)
        found = store.live_table(cur, dataset_id)
        assert found is not None
        first = live.revision(dataset, found, 60, 1000.0)
        assert live.revision(dataset, found, 60, 1019.0) == first  # same window
        assert live.revision(dataset, found, 60, 1021.0) != first  # the next one
        store.refresh_live_table(cur, dataset_id)
        refreshed = store.live_table(cur, dataset_id)
        assert live.revision(dataset, refreshed, 60, 1000.0) != first
        store.delete_dataset(cur, dataset_id)
        assert store.live_table(cur, dataset_id) is None


def test_a_connection_gone_from_the_secrets_is_named_not_a_traceback(
    store_path: Path, postgres_url: str
) -> None:
    data.load_postgres(postgres_url, ROWS, "shop floor", "Orders 2024")
    address = urlsplit(postgres_url)  # given in parts, as st.connection's SQLConnection takes
    parts = {
        "dialect": "postgresql",
        "host": address.hostname,
        "port": address.port,
        "database": address.path.lstrip("/"),
        "username": address.username,
    }
    at = _connect(_app(store_path, {"shop": parts}))
    at.switch_page("pages/dashboard.py")
    at = open_sections(rerun(at), "open_add_kpi")
    at.text_input(key="new_name").input("Revenue")
    at.selectbox(key="new_agg").select("sum")
    rerun(at)
    at.selectbox(key="new_col").select("Sales")
    rerun(at)
    at.button(key="add_kpi").click()
    rerun(at)
    assert any(m.label == "Revenue" for m in at.metric)
    later = _app(store_path, {})  # the secrets no longer name "shop"
    later.switch_page("pages/dashboard.py")
    rerun(later)
    assert any('There is no connection "shop"' in e.body for e in later.error)


def test_a_ratio_on_a_live_table_is_explained_from_the_database(
    store_path: Path, postgres_url: str
) -> None:
    """The contribution chart of a ratio of sums reads its parts from the database: the
    contributions add up to the gap between the latest month's margin and its target."""
    data.load_postgres(postgres_url, ROWS, "shop floor", "Orders 2024")
    at = _connect(_app(store_path, {"shop": {"url": postgres_url}}))
    at.switch_page("pages/dashboard.py")
    at = open_sections(rerun(at), "open_add_kpi")
    at.text_input(key="new_name").input("Margin")
    at.radio(key="new_mode").set_value("Expression")
    rerun(at)
    at.text_input(key="new_expr").input('sum("Profit") / sum("Sales")')
    at.selectbox(key="new_time").select("Order Date")
    at.selectbox(key="new_grain").select("month")
    at.selectbox(key="new_by").select("Region")
    at.number_input(key="new_target").set_value(0.1)
    rerun(at)
    at.button(key="add_kpi").click()
    rerun(at)
    chart = chart_data(at, "Contribution to the gap")
    months = [data.period_start(d, "month") for d in FRAME["Order Date"]]
    latest = FRAME[[m == max(months) for m in months]]
    margin = latest["Profit"].sum() / latest["Sales"].sum()
    assert chart["contribution"].sum() == pytest.approx(margin - 0.1)
