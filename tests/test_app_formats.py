"""Numbers as the app shows them, through AppTest on a store of the test's own: a generated
dataset whose KPI file sets ``currency: €``, a sales series that rises and dips in its last
month. Expected figures come from pandas over the same rows."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.proto.Metric_pb2 import Metric as MetricProto

from kpi_logic import workspace
from kpi_logic.store import Store, upload_dir_for
from tests.test_app import chart_data, open_sections, rerun, start, table_with

# Monthly sales of the whole company: rising through the year, a dip in the last month.
MONTHLY = [40_000, 52_000, 61_000, 70_000, 83_000, 95_000, 88_000]
KPI_FILE = """\
currency: €
kpis:
  - name: Sales
    unit: currency
    measure: sum("Amount")
    time: Day
    grain: month
    by: Region
    target: {default: 40000, total: 100000}
  - name: Margin
    unit: percent
    measure: sum("Profit") / sum("Amount")
    time: Day
    grain: month
    target: 0.15
    bands: {good: 1.0, warning: 0.9}
  - name: Orders
    measure: count(*)
    time: Day
    grain: month
"""


def _rows() -> pd.DataFrame:
    """A few orders per region and month; the regions split each month's sales 60/40."""
    rng = np.random.default_rng(17)
    rows = []
    for month, total in enumerate(MONTHLY, start=1):
        for region, share in (("North", 0.6), ("South", 0.4)):
            parts = rng.dirichlet(np.ones(4)) * total * share
            for i, amount in enumerate(parts):
                day = date(2024, month, 3 + 6 * i)
                rows.append((day, region, round(float(amount), 2), round(float(amount) * 0.14, 2)))
    frame = pd.DataFrame(rows, columns=["Day", "Region", "Amount", "Profit"])
    frame["month"] = pd.to_datetime(frame["Day"]).dt.to_period("M").dt.start_time
    return frame


def make_euro_store(store_path: Path, tmp_path: Path) -> pd.DataFrame:
    """Make a store at ``store_path`` holding only the generated dataset and its KPI file in
    euros (as the app's first start makes the sample's); return the dataset's rows."""
    frame = _rows()
    uploads = upload_dir_for(store_path)  # the store reads files from there only
    uploads.mkdir(parents=True, exist_ok=True)
    csv, kpis = uploads / "sales.csv", tmp_path / "kpis.yaml"
    frame.drop(columns="month").to_csv(csv, index=False)
    kpis.write_text(KPI_FILE, encoding="utf-8")
    with Store(store_path) as store:
        workspace.ensure_sample(store, csv, kpis, uploads)
    return frame


@pytest.fixture
def euro_store(store_path: Path, tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """The app's store (``KPI_STORE``) made by :func:`make_euro_store`."""
    return store_path, make_euro_store(store_path, tmp_path)


def test_cards_charts_and_sliders_speak_the_kpi_files_currency(euro_store) -> None:
    store_path, frame = euro_store
    at = start(store_path)
    monthly = frame.groupby("month")["Amount"].sum()
    last, before = monthly.iloc[-1], monthly.iloc[-2]
    sales = next(m for m in at.metric if m.label == "Sales")
    assert sales.value == f"€{last / 1000:.1f}K"
    assert sales.proto.delta.startswith("-€")  # the last step is a dip...
    assert monthly.iloc[-1] > monthly.iloc[0]  # ...of a series that rose over the window:
    assert sales.proto.color == MetricProto.MetricColor.GREEN  # its sparkline is green
    assert last < before
    # the slider: labelled in euros, tied to the saved total of 100,000 in steps of 1,000
    slider = at.slider(key="slider::Sales")
    assert slider.proto.format == "€%,.0f"
    assert (slider.min, slider.max, slider.step) == (50_000.0, 150_000.0, 1_000.0)
    assert slider.value == pytest.approx(100_000.0)
    assert at.number_input(key="number::Sales").value == pytest.approx(100_000.0)
    # one control per target: a slider per region, no second grid of the same targets
    open_sections(at, "open_category_targets")
    assert {s.key for s in at.slider} >= {"slider::Sales@North", "slider::Sales@South"}
    assert not [d for d in at.dataframe if "Region" in d.value.columns and d.proto.editing_mode]
    # the bullet's bars and the trend's tooltips in euros, a dash where a value is missing
    bullet = chart_data(at, "Actual against target")
    latest = frame[frame["month"] == frame["month"].max()].groupby("Region")["Amount"].sum()
    labels = bullet.drop_duplicates("category").set_index("category")["label"]
    for region, amount in latest.items():
        assert labels[region].endswith(f" €{amount / 1000:.1f}K")
    trend = chart_data(at, "Trend").dropna(subset=["actual"]).drop_duplicates("period")
    assert trend["actual_text"].tolist() == [f"€{v:,.0f}" for v in monthly]
    assert not trend["target_text"].str.contains("null|None|nan").any()
    # what drives the gap, in one sentence: in euros too
    [reading] = [m.value for m in at.markdown if " accounts for " in m.value]
    assert "€" in reading, reading
    assert "$" not in reading, reading


def test_percent_kpis_slide_in_percent_and_bands_read_as_percentages(euro_store) -> None:
    store_path, frame = euro_store
    at = start(store_path)
    at.selectbox(key="kpi_pick").select("Margin")
    rerun(at)
    slider = at.slider(key="slider::Margin")
    assert slider.proto.format == "percent"  # 15%, not 0.150
    assert slider.value == pytest.approx(0.15)
    exact = at.number_input(key="number::Margin")
    assert exact.label == "Exact (%)"
    assert exact.value == pytest.approx(15.0)
    exact.set_value(17.5)
    rerun(at)
    assert at.slider(key="slider::Margin").value == pytest.approx(0.175)
    trend = chart_data(at, "Trend").dropna(subset=["actual"]).drop_duplicates("period")
    assert set(trend["target"]) == {0.175}
    bands = next(s for s in at.slider if s.key == "bands::Margin")
    assert bands.proto.format == "percent"  # "90% / 100%", not "0.90 / 1.00"
    assert bands.value == pytest.approx((0.9, 1.0))


def test_the_period_grid_has_empty_cells_and_a_formatted_column(euro_store) -> None:
    store_path, frame = euro_store
    at = start(store_path)
    open_sections(at, "open_period_targets")
    grid = next(d for d in at.dataframe if "period" in d.value.columns and d.proto.editing_mode)
    months = sorted(frame["month"].unique())
    assert len(grid.value) == len(months)
    assert grid.value["target"].dtype == "float64"
    assert grid.value["target"].isna().all()  # no per-period target: empty, never "None"
    column = json.loads(grid.proto.columns)["target"]
    assert column["type_config"]["format"] == "€%,.0f"


def test_review_rounds_as_the_cards_and_the_preview_shows_days(euro_store) -> None:
    store_path, frame = euro_store
    at = start(store_path)
    at.switch_page("pages/review.py")
    rerun(at)
    overview = table_with(at, "Attainment")
    monthly = frame.groupby("month")["Amount"].sum()
    row = overview.set_index("KPI").loc["Sales"]
    assert row["Attainment"] == pytest.approx(monthly.iloc[-1] / 100_000 * 100)
    assert row["Actual"] == f"€{monthly.iloc[-1] / 1000:.1f}K"
    assert row["Target"] == "€100.0K"
    table = next(d for d in at.dataframe if "Attainment" in d.value.columns)
    column = json.loads(table.proto.columns)["Attainment"]
    assert column["type_config"]["format"] == "%.0f%%"  # "88%", as on the card
    at.switch_page("pages/data.py")
    rerun(at)
    preview = table_with(at, "Amount")
    expected = sorted(pd.to_datetime(frame["Day"]).dt.date)[:3]
    assert sorted(preview["Day"])[:3] == expected
    assert all(type(v) is date for v in preview["Day"])  # no " 00:00:00"
