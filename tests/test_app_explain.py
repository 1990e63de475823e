"""AppTests of issue 12 on the bundled sample: the contribution chart and its table, the
forecast interval and notes on the trend, the chance on the card, the Review digest."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from tests.test_app import SAMPLE_CSV, chart_data, open_sections, rerun, start, table_with

TARGETS = {"North": 1_100_000, "South": 900_000, "East": 1_050_000, "West": 1_000_000}


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return pd.read_csv(SAMPLE_CSV, parse_dates=["Date"])


def datasets_of(at: object, title: str) -> dict[str, pd.DataFrame]:
    for chart in at.get("vega_lite_chart"):  # type: ignore[attr-defined]
        spec = json.loads(chart.proto.spec)
        text = spec.get("title", {})
        text = text.get("text") if isinstance(text, dict) else text
        if str(text).startswith(title):
            return {
                d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas()
                for d in chart.proto.datasets
            }
    raise AssertionError(f"no chart titled {title!r}")


def test_contribution_chart_reading_and_table(store_path: Path, sample: pd.DataFrame) -> None:
    at = start(store_path)
    chart = chart_data(at, "Contribution to the gap")
    december = sample[sample["Date"].dt.strftime("%Y-%m") == "2024-12"]
    actual = december.groupby("Region")["Revenue"].sum()
    got = chart.set_index("category")["contribution"]
    for region, target in TARGETS.items():
        assert got[region] == pytest.approx(actual[region] - target)
    assert got["(unallocated)"] == pytest.approx(sum(TARGETS.values()) - 4_000_000)
    assert got.sum() == pytest.approx(december["Revenue"].sum() - 4_000_000)
    sizes = chart["contribution"].abs().tolist()
    assert sizes == sorted(sizes, reverse=True)  # largest first
    best = (actual - pd.Series(TARGETS)).idxmax()  # the gap is positive: the largest plus
    assert any(m.body.startswith(f"{best} accounts for +") for m in at.markdown)
    # the table alternative, one click away
    assert not [f for f in at.dataframe if "contribution" in f.value.columns]
    open_sections(at, "table_contributions")
    table = table_with(at, "contribution").set_index("category")
    assert table["contribution"].to_dict() == pytest.approx(got.to_dict())
    # what drove the change against last year
    at.segmented_control(key="explain_against").set_value("Last year")
    rerun(at)
    change = chart_data(at, "What drove the change").set_index("category")["contribution"]
    year_before = sample[sample["Date"].dt.strftime("%Y-%m") == "2023-12"]
    expected = actual - year_before.groupby("Region")["Revenue"].sum()
    assert change.sort_index().to_numpy() == pytest.approx(expected.sort_index().to_numpy())


def test_interval_notes_and_chance_on_a_view_before_the_due_date(store_path: Path) -> None:
    from ui import session

    start(store_path)  # loads the sample into the store
    cur = session.store().cursor()
    (dataset,) = session.store().list_datasets(cur)
    (kpi_set,) = session.store().list_kpi_sets(cur, dataset.id)
    session.store().add_note(
        cur, kpi_set.id, "Revenue", "ann", "Storm <b>closed</b> West", "at risk", date(2024, 7, 1)
    )
    later = start(store_path, {"to": "2024-09-30"})  # the data up to 30 Sep: due 31 Dec ahead
    trend = datasets_of(later, "Trend")
    interval = trend["interval"]
    assert len(interval) == 2
    last, due = interval.iloc[0], interval.iloc[1]
    assert pd.Timestamp(due["period"]).date() == date(2024, 12, 1)
    assert last["low"] == last["high"] == last["value"]  # starts at the last actual
    assert due["low"] < due["value"] < due["high"]
    notes = trend["notes"]
    assert notes["note"].tolist() == ["Storm <b>closed</b> West"]
    assert pd.Timestamp(notes["date"].iloc[0]).date() == date(2024, 7, 1)
    chances = [c.body for c in later.caption if "chance of being on target by" in c.body]
    assert chances  # the cards with a due date show it
    forecast = [m.body for m in later.markdown if m.body.startswith("Forecast for 31 Dec 2024")]
    assert forecast
    assert "80% interval" in forecast[0]


def test_review_digest_view_and_downloads(store_path: Path, sample: pd.DataFrame) -> None:
    at = start(store_path)
    at.switch_page("pages/review.py")
    rerun(at)
    assert not [b for b in at.get("download_button") if b.label.startswith("Digest")]
    open_sections(at, "digest_open")
    labels = {b.label for b in at.get("download_button")}
    assert {"Digest as HTML", "Digest as Markdown"} <= labels
    page = next(m.body for m in at.markdown if m.body.startswith("# KPI review"))
    december = sample[sample["Date"].dt.strftime("%Y-%m") == "2024-12"]
    margin = 1 - december["Cost"].sum() / december["Revenue"].sum()
    assert 0.95 * 0.45 <= margin < 0.45  # so Profit Margin is at risk...
    attention = page.split("## Needs attention", 1)[1].split("## On target", 1)[0]
    assert "### ▲ Profit Margin: at risk" in attention  # ...and needs attention
    assert "Revenue" not in attention  # Revenue is on target: one line below
    assert "- ✔ Revenue:" in page
    statuses = table_with(at, "Status")["Status"].tolist()
    assert all(s[0] in "✔▲✖○–" for s in statuses if s)  # symbol before each word
