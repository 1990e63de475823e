"""Dataset versions, same-name uploads and links through the real app (AppTest) on a real
store: a new version keeps the KPIs and moves the dashboard to the new rows, an append skips
rows by key, a restore goes back, the schema diff names a KPI a file would break, links
follow the latest version unless pinned, saved views of deleted datasets say so. Expected
figures come from pandas over the same rows."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from tests.test_app import (
    SAMPLE_CSV,
    SAMPLE_KPIS,
    chart_data,
    open_sections,
    rerun,
    start,
    table_with,
)

SAMPLE_NAMES = [k["name"] for k in yaml.safe_load(SAMPLE_KPIS.read_text())["kpis"]]


def upload(at: AppTest, name: str, content: bytes, *, index: int = 0) -> AppTest:
    """Upload a file with the Data page's uploader number ``index`` (0: new datasets; 1: a
    new version of the dataset shown, in the open Versions section)."""
    at.switch_page("pages/data.py")
    rerun(at)
    if index:
        open_sections(at, "open_versions")
    at.get("file_uploader")[index].set_value((name, content, "text/csv"))
    return rerun(at)


def as_new_version(at: AppTest) -> AppTest:
    """Answer the same-name question with "a new version"."""
    assert at.radio(key="same_name_choice").value == "version"
    at.button(key="same_name_go").click()
    return rerun(at)


def trend_actuals(at: AppTest) -> pd.Series:
    trend = chart_data(at, "Trend")
    trend = trend[trend["actual"].notna()].drop_duplicates("period").sort_values("period")
    return trend.set_index(pd.to_datetime(trend["period"]).dt.tz_localize(None))["actual"]


def monthly_revenue(frame: pd.DataFrame) -> pd.Series:
    month = pd.to_datetime(frame["Date"]).dt.to_period("M").dt.start_time
    return frame.groupby(month)["Revenue"].sum()


def captions(at: AppTest) -> str:
    return " ".join(c.body for c in at.caption) + " ".join(m.body for m in at.markdown)


def test_a_new_version_keeps_the_kpis_and_links_follow_it_unless_pinned(
    store_path: Path,
) -> None:
    sample = pd.read_csv(SAMPLE_CSV)
    newer = sample[sample["Date"] >= "2024-01-01"].copy()
    newer["Revenue"] = (newer["Revenue"] * 2).round(2)
    at = upload(start(store_path), "sample_sales.csv", newer.to_csv(index=False).encode())
    at = as_new_version(at)
    assert any("Same columns and types as version 1" in s.body for s in at.success)
    at.button(key="version_go").click()
    rerun(at)
    assert any(s.body.startswith("Version 2 of Sample sales (bundled)") for s in at.success)
    assert len(at.selectbox(key="data_pick").options) == 1  # still one dataset
    versions = table_with(open_sections(at, "open_versions"), "Shown")
    assert list(versions["Version"]) == [2, 1]
    assert list(versions["Rows"]) == [len(newer), len(sample)]
    assert list(versions["Shown"]) == ["current", ""]
    dataset_id = at.selectbox(key="data_pick").value

    at.switch_page("pages/dashboard.py")
    rerun(at)
    assert [m.label for m in at.metric] == SAMPLE_NAMES  # the KPI set stayed
    assert "version 2 · " in captions(at)
    expected = monthly_revenue(newer)
    assert trend_actuals(at).to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-9)

    at.switch_page("pages/review.py")
    rerun(at)
    history = table_with(at, "What")
    assert history.iloc[0]["What"] == "Data"
    assert history.iloc[0]["Change"].startswith("Version 2: New version from sample_sales.csv")

    # an old link (no version) follows the latest; a pinned one stays on its version
    latest = start(store_path, {"ds": dataset_id})
    assert trend_actuals(latest).to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-9)
    pinned = start(store_path, {"ds": dataset_id, "dv": "1"})
    assert "version 1 (pinned; the latest is version 2)" in captions(pinned)
    old = monthly_revenue(sample)
    assert trend_actuals(pinned).to_numpy() == pytest.approx(old.to_numpy(), rel=1e-9)

    # "Pin this version" in the share panel writes the version into the link
    at = open_sections(start(store_path, {"ds": dataset_id}), "open_share")
    assert "dv=" not in at.code[-1].value
    at.checkbox(key="pin_version").check()
    rerun(at)
    link = at.code[-1].value
    assert f"ds={dataset_id}" in link
    assert "dv=2" in link
    third = sample[sample["Date"] < "2023-07-01"]
    at = as_new_version(upload(at, "sample_sales.csv", third.to_csv(index=False).encode()))
    at.button(key="version_go").click()
    rerun(at)
    kept = start(store_path, {"ds": dataset_id, "dv": "2"})
    assert trend_actuals(kept).to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-9)
    moved = start(store_path, {"ds": dataset_id})
    assert "version 3 · " in captions(moved)
    gone = start(store_path, {"ds": dataset_id, "dv": "7"})
    assert any(
        "Version 7 of “Sample sales (bundled)” no longer exists; showing its current version (3)"
        in w.body
        for w in gone.warning
    )


def test_the_schema_diff_names_a_broken_kpi_and_cancel_keeps_the_dataset(
    store_path: Path,
) -> None:
    sample = pd.read_csv(SAMPLE_CSV).rename(columns={"Revenue": "Sales"})
    at = as_new_version(
        upload(start(store_path), "sample_sales.csv", sample.to_csv(index=False).encode())
    )
    page = " ".join(m.body for m in at.markdown)
    assert "Added: Sales" in page
    assert "Removed: Revenue" in page
    (broken,) = [e.body for e in at.error if "These KPIs would break" in e.body]
    assert "**Revenue** (Sample KPIs)" in broken
    assert "**Profit Margin** (Sample KPIs)" in broken
    assert "**Orders" not in broken  # counts "Orders": still computes
    at.button(key="version_cancel").click()
    rerun(at)
    assert "version_go" not in [b.key for b in at.button]
    assert list(table_with(open_sections(at, "open_versions"), "Shown")["Version"]) == [1]
    assert "version 1 · " in captions(at)


ORDERS = "Order,Day,Amount\n" + "".join(f"o{i},2024-01-{1 + i:02d},{10 + i}\n" for i in range(5))
MORE = "Order,Day,Amount\n" + "".join(f"o{i},2024-02-{1 + i:02d},{100 + i}\n" for i in range(3, 9))


def preview_total(at: AppTest) -> tuple[int, float]:
    preview = at.dataframe[0].value
    return len(preview), float(preview["Amount"].sum())


def test_append_by_key_restore_and_a_separate_dataset_of_the_same_name(store_path: Path) -> None:
    at = upload(start(store_path), "orders.csv", ORDERS.encode())
    assert "same_name_choice" not in [r.key for r in at.radio]  # a new name loads at once
    at = upload(at, "orders.csv", MORE.encode(), index=1)  # the Versions section's uploader
    at.radio(key="version_mode").set_value("append")
    rerun(at)
    at.selectbox(key="version_key").select("Order")
    rerun(at)
    at.button(key="version_go").click()
    rerun(at)
    first = pd.read_csv(pd.io.common.StringIO(ORDERS))
    more = pd.read_csv(pd.io.common.StringIO(MORE))
    fresh = more[~more["Order"].isin(first["Order"])]
    skipped = len(more) - len(fresh)
    assert any(
        f"Appended {len(fresh)} rows from orders.csv; {skipped} rows skipped" in s.body
        for s in at.success
    )
    expected = pd.concat([first, fresh])
    assert preview_total(at) == (len(expected), pytest.approx(expected["Amount"].sum()))
    dataset_id = at.selectbox(key="data_pick").value

    open_sections(at, "open_versions")
    restore = next(s for s in at.selectbox if s.key == f"restore_pick_{dataset_id}")
    restore.select(1)
    rerun(at)
    at.button(key="restore_version").click()
    rerun(at)
    assert preview_total(at) == (len(first), pytest.approx(first["Amount"].sum()))
    versions = table_with(open_sections(at, "open_versions"), "Shown")
    assert list(versions["Shown"]) == ["", "current"]

    at = upload(at, "orders.csv", ORDERS.encode())
    at.radio(key="same_name_choice").set_value("separate")
    rerun(at)
    at.button(key="same_name_go").click()
    rerun(at)
    assert any("as a separate dataset, “orders.csv (2)”" in s.body for s in at.success)
    picker = at.selectbox(key="data_pick")
    labels = picker.options  # as the page shows them
    assert len(set(labels)) == len(labels) == 3
    assert sum(label.startswith("orders.csv · ") for label in labels) == 1
    assert picker.value != dataset_id
    assert "orders.csv (2) · version 1" in captions(at)


def test_a_saved_view_of_a_deleted_dataset_says_so(store_path: Path) -> None:
    at = upload(start(store_path), "orders.csv", ORDERS.encode())
    at.switch_page("pages/dashboard.py")
    rerun(at)
    at = open_sections(at, "open_share")  # a dashboard without KPIs has its share panel
    assert "ds=" in at.code[-1].value
    at.text_input(key="view_name").input("Orders view")
    at.run()
    at.button(key="save_view").click()
    rerun(at)
    view_id = at.session_state["view"].view

    deleter = start(store_path, {"v": view_id})
    deleter.switch_page("pages/data.py")
    deleter.session_state["open_delete_dataset"] = True  # open the section, as a click would
    rerun(deleter)
    deleter.text_input(key="delete_confirm").input("orders.csv")
    rerun(deleter)
    deleter.button(key="delete_dataset").click()
    rerun(deleter)

    opened = start(store_path, {"v": view_id})
    message = "The dataset of this link or view no longer exists; showing “Sample sales (bundled)”"
    assert any(message in w.body for w in opened.warning), [w.body for w in opened.warning]
    again = open_sections(start(store_path), "open_share")
    again.button(key="open_view").click()
    rerun(again)
    assert any(message in w.body for w in again.warning), [w.body for w in again.warning]
    assert len(again.metric) == len(SAMPLE_NAMES)


def test_a_link_to_a_deleted_kpi_set_names_the_set_shown(store_path: Path) -> None:
    at = start(store_path)
    dataset_id = at.selectbox(key="dataset_pick").value
    link = start(store_path, {"ds": dataset_id, "ks": "A" * 22, "t": json.dumps({"Revenue": 1})})
    assert any(
        "The KPI set of this link or view no longer exists; showing “Sample KPIs”" in w.body
        for w in link.warning
    )


def test_two_uploads_of_one_name_stay_apart_and_nothing_switches_them(store_path: Path) -> None:
    at = upload(start(store_path), "superstore.csv", ORDERS.encode())
    older = at.selectbox(key="data_pick").value
    at = upload(at, "superstore.csv", ORDERS.encode())
    at.radio(key="same_name_choice").set_value("separate")
    rerun(at)
    at.button(key="same_name_go").click()
    rerun(at)
    newer = at.selectbox(key="data_pick").value
    assert newer != older
    at.selectbox(key="data_pick").select(older)
    rerun(at)
    at.switch_page("pages/dashboard.py")
    rerun(at)
    assert at.selectbox(key="dataset_pick").value == older
    for key in ("open_share", "open_add_kpi", "open_kpi_file"):
        open_sections(at, key)
        assert at.selectbox(key="dataset_pick").value == older
    assert "superstore.csv · version 1 · 5 rows" in captions(at)
    assert "superstore.csv (2)" not in captions(at)
    labels = at.selectbox(key="dataset_pick").options
    assert len(set(labels)) == len(labels)
