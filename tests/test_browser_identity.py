"""The name typed once is remembered by the browser (a cookie): a new session in the same
browser profile starts with it and records it on a note; another profile does not have it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from kpi_logic.store import Store
from tests.conftest import running_app
from tests.test_browser import TIMEOUT_MS, wait_for_app

pytestmark = pytest.mark.browser

NAME = "Zoë O'Neil; QA"  # non-ASCII and a semicolon, which a cookie must not take raw
LABEL = "Your name (for notes and history)"


def test_a_typed_name_is_remembered_by_that_browser_only(
    tmp_path: Path, sample_store: Path, browser
) -> None:
    shutil.copytree(sample_store, tmp_path / "store")
    store_file = tmp_path / "store" / "kpi_store.duckdb"
    with running_app(store_file, tmp_path) as url:
        profile = browser.new_context(viewport={"width": 1400, "height": 1200})
        page = profile.new_page()
        page.goto(url + "/review")
        wait_for_app(page)
        page.get_by_label(LABEL).fill(NAME)
        page.get_by_label(LABEL).press("Enter")
        page.wait_for_function("() => document.cookie.includes('kpi_author=')", timeout=TIMEOUT_MS)

        again = profile.new_page()  # a new Streamlit session in the same browser profile
        again.goto(url + "/review")
        wait_for_app(again)
        expect(again.get_by_label(LABEL)).to_have_value(NAME, timeout=TIMEOUT_MS)
        no_notes = again.get_by_text("No notes on")
        expect(no_notes).to_be_visible(timeout=TIMEOUT_MS)
        again.get_by_label("Note", exact=True).fill("Typed once, remembered")
        again.get_by_role("button", name="Add note").click()
        expect(no_notes).to_have_count(0, timeout=TIMEOUT_MS)

        stranger = browser.new_context()  # a fresh browser profile
        other = stranger.new_page()
        other.goto(url + "/review")
        wait_for_app(other)
        expect(other.get_by_label(LABEL)).to_have_value("", timeout=TIMEOUT_MS)
        assert not [c for c in stranger.cookies() if c["name"] == "kpi_author"]
        stranger.close()
        profile.close()
    with Store(store_file) as store:
        cur = store.cursor()
        authors = {
            note.author
            for dataset in store.list_datasets(cur)
            for kpi_set in store.list_kpi_sets(cur, dataset.id)
            for note in store.notes(cur, kpi_set.id)
            if note.text == "Typed once, remembered"
        }
    assert authors == {NAME}
