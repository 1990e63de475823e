"""Issue 12 in a real browser: a check-in note tied to a period is added on the Review page,
then shows on the trend at its period with its text on hover, beside the forecast's
interval; the contribution chart is drawn; the digest downloads as HTML."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.test_browser import TIMEOUT_MS, wait_for_app

pytestmark = pytest.mark.browser

NOTE = "Storm closed two West stores"


def test_note_interval_contribution_chart_and_digest_download(app_url: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 2600}, accept_downloads=True)
    page.goto(app_url + "/review")
    page.get_by_text("Check-in").wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page)
    page.get_by_label("Note", exact=True).fill(NOTE)
    period = page.locator('[class*="st-key-note_period"]')
    period.locator("input").click()
    page.keyboard.type("Jul 2024")
    page.keyboard.press("Enter")
    expect(period.get_by_role("combobox")).to_have_value("Jul 2024", timeout=TIMEOUT_MS)
    empty = page.get_by_text("No notes on Revenue yet.")
    empty.wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Add note").click()
    expect(empty).to_have_count(0, timeout=TIMEOUT_MS)  # the notes table took its place
    wait_for_app(page)

    # the digest, downloaded as the meeting would get it
    page.get_by_text("Digest for the review meeting").click()
    button = page.get_by_role("button", name="Digest as HTML")
    button.wait_for(timeout=TIMEOUT_MS)
    with page.expect_download(timeout=TIMEOUT_MS) as download:
        button.click()
    html = Path(download.value.path()).read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<h2>Needs attention</h2>" in html
    assert "Profit Margin: at risk" in html
    assert NOTE not in html  # the note is on Revenue, which is on target: one line
    assert "✔ Revenue:" in html

    # the dashboard with the data up to 30 Sep: the note at July, the interval to December
    page.goto(app_url + "/?to=2024-09-30")
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=TIMEOUT_MS)
    wait_for_app(page)
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    mark = charts.locator("svg path[aria-label*='Note: " + NOTE + "']").last  # rule, then flag
    mark.wait_for(timeout=TIMEOUT_MS)
    assert "Note of: 01 Jul 2024" in (mark.get_attribute("aria-label") or "")
    mark.hover()
    tooltip = page.locator("#vg-tooltip-element")
    expect(tooltip).to_contain_text(NOTE, timeout=TIMEOUT_MS)
    band = charts.locator("svg path[aria-label*='Period: Dec 2024; Forecast:']")
    band.first.wait_for(timeout=TIMEOUT_MS)  # the interval reaches the due period
    assert "80% interval from" in (band.first.get_attribute("aria-label") or "")
    bars = charts.locator("svg path[aria-label^='Contribution:']")
    bars.first.wait_for(timeout=TIMEOUT_MS)
    assert bars.count() >= 4  # a bar per region (and the unallocated rest)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()
