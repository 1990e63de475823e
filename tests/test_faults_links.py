"""Fault suite: links that name what a dataset lacks, and buttons pressed in two tabs at once.

Two AppTest sessions over one store are two browser tabs of one server (the store is one per
process). Each race ends in a clear message and nothing deleted but what was asked for.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from kpi_logic.share import ViewState, app_root, share_url
from tests.test_app import ROOT, SAMPLE_KPIS, TIMEOUT, open_sections, rerun, start

SAMPLE_KPI_NAMES = [k["name"] for k in yaml.safe_load(SAMPLE_KPIS.read_text())["kpis"]]


def save_views(store_path: Path, *names: str) -> None:
    """Save the default view under each name, in order, as one user would."""
    at = open_sections(start(store_path), "open_share")
    for name in names:
        at.text_input(key="view_name").input(name)
        at.run()  # the name enables the button, as typing does in a browser
        at.button(key="save_view").click()
        rerun(at)


def saved_view_names(at: AppTest) -> list[str]:
    """The names in the saved views picker of a session with the share panel open."""
    return list(at.selectbox(key="view_pick").options)  # AppTest lists the shown labels


def link_warnings(at: AppTest) -> list[str]:
    return [w.body for w in at.warning if w.body.startswith("Link:")]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"t": json.dumps({"Revenue": -5})}, "not a number of zero or more"),
        ({"f": json.dumps({"Nope": ["x"]})}, "a column this dataset does not have"),
        ({"kpi": "No such KPI"}, "is not in this KPI set"),
        ({"t": json.dumps({"Ghost@West": 5.0, "Revenue": 10.0})}, "is for no KPI of this set"),
    ],
)
def test_a_link_part_the_view_cannot_use_is_dropped_with_a_warning(
    store_path: Path, params: dict[str, str], expected: str
) -> None:
    at = start(store_path, params)
    assert len(at.metric) == len(SAMPLE_KPI_NAMES)  # every card is drawn...
    assert not at.error  # ... and none of them carries an error
    assert any(expected in w for w in link_warnings(at)), link_warnings(at)
    assert at.selectbox(key="kpi_pick").value in SAMPLE_KPI_NAMES
    rerun(at)  # the part is gone from the view: no second warning on the next run
    assert link_warnings(at) == []


def test_a_known_kpis_target_in_the_same_link_still_applies(store_path: Path) -> None:
    at = start(store_path, {"t": json.dumps({"Ghost": 1.0, "Revenue": 123_456.0})})
    at.session_state["open_share"] = True
    rerun(at)
    assert at.slider(key="slider::Revenue").value == pytest.approx(123_456.0)


@pytest.mark.parametrize(
    ("page_url", "page", "expected"),
    [
        ("http://h:8501/data?ds=x", "data", "http://h:8501/data"),
        ("http://h:8501/review", "review", "http://h:8501/review"),
        ("http://h:8501/review/", "dashboard", "http://h:8501/"),
        ("https://kpi.example/team/kpi/data", "review", "https://kpi.example/team/kpi/review"),
        ("http://h:8501", "data", "http://h:8501/data"),
        ("http://data:8501/", "dashboard", "http://data:8501/"),
    ],
)
def test_the_share_link_names_its_page_once_from_any_page(
    page_url: str, page: str, expected: str
) -> None:
    assert share_url(page_url, ViewState(page=page)) == expected
    assert app_root(page_url) + ("" if page == "dashboard" else page) == expected


def test_deleting_a_saved_view_another_tab_deleted_deletes_nothing_else(
    store_path: Path,
) -> None:
    save_views(store_path, "Zeta view", "Alpha view")
    tab_a = open_sections(start(store_path), "open_share")
    tab_b = open_sections(start(store_path), "open_share")
    picked = tab_a.selectbox(key="view_pick").value
    assert tab_b.selectbox(key="view_pick").value == picked
    tab_b.button(key="delete_view").click()
    rerun(tab_b)

    tab_a.button(key="delete_view").click()  # drawn for the view tab B just deleted
    rerun(tab_a)
    assert any("no longer exists" in e.body for e in tab_a.error), [e.body for e in tab_a.error]
    assert saved_view_names(open_sections(start(store_path), "open_share")) in (
        ["Zeta view"],
        ["Alpha view"],
    )


def test_renaming_a_saved_view_another_tab_deleted_renames_nothing_else(
    store_path: Path,
) -> None:
    save_views(store_path, "Kept view", "Doomed view")
    tab_a = open_sections(start(store_path), "open_share")
    tab_b = open_sections(start(store_path), "open_share")
    assert tab_a.selectbox(key="view_pick").value == tab_b.selectbox(key="view_pick").value
    tab_a.text_input(key="view_rename").input("Renamed")
    tab_a.run()  # tab A shows "Doomed view", the newest, with a new name typed
    tab_b.button(key="delete_view").click()
    rerun(tab_b)

    tab_a.button(key="rename_view").click()  # drawn for the view tab B just deleted
    rerun(tab_a)
    assert any("no longer exists" in e.body for e in tab_a.error), [e.body for e in tab_a.error]
    assert saved_view_names(tab_a) == ["Kept view"]


def test_deleting_a_kpi_another_tab_deleted_deletes_no_other_kpi(store_path: Path) -> None:
    tab_a = open_sections(start(store_path, {"kpi": "Profit Margin"}), "open_edit_kpi")
    tab_b = open_sections(start(store_path, {"kpi": "Profit Margin"}), "open_edit_kpi")
    tab_b.button(key="delete_kpi").click()
    rerun(tab_b)
    assert "Profit Margin" not in tab_b.selectbox(key="kpi_pick").options

    tab_a.button(key="delete_kpi").click()  # drawn for Profit Margin, now gone
    rerun(tab_a)
    assert any("already deleted" in e.body for e in tab_a.error), [e.body for e in tab_a.error]
    after = start(store_path)
    expected = [n for n in SAMPLE_KPI_NAMES if n != "Profit Margin"]
    assert after.selectbox(key="kpi_pick").options == expected


def test_a_saved_view_opens_the_view_its_button_was_drawn_for(store_path: Path) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["kpi"] = "Profit Margin"
    at.run()
    open_sections(at, "open_share")
    at.text_input(key="view_name").input("Margins")
    at.run()
    at.button(key="save_view").click()
    rerun(at)
    other = open_sections(start(store_path), "open_share")
    other.button(key="open_view").click()
    rerun(other)
    assert other.selectbox(key="kpi_pick").value == "Profit Margin"
