"""The real app in a real browser: Debian's Chromium driven by Playwright against
`streamlit run`. Covers what AppTest cannot: JavaScript charts, uploads through the page,
slider keys, and the address bar as a share link."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_MS = 60_000


def wait_for_app(page) -> None:
    """Wait until Streamlit has finished the current run."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=TIMEOUT_MS,
    )


def card_statuses(page) -> dict[str, str]:
    """KPI name -> status text, read off the cards on the dashboard."""
    return page.evaluate(
        """() => Object.fromEntries(
            [...document.querySelectorAll('[data-testid="stMetric"]')].map(m => {
                const box = m.closest('[data-testid="stVerticalBlockBorderWrapper"]')
                          || m.parentElement.parentElement;
                const label = m.querySelector('[data-testid="stMetricLabel"]').innerText;
                const statuses = /(On target|At risk|Off target|No target|No data)/;
                const badge = box.innerText.match(statuses);
                return [label.trim(), badge ? badge[1] : ''];
            }))"""
    )


def test_sample_dashboard_shows_cards_and_drawn_charts(app_url: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(app_url)
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=TIMEOUT_MS)
    wait_for_app(page)
    assert page.locator('[data-testid="stMetricValue"]').count() >= 8
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.wait_for(timeout=TIMEOUT_MS)
    chart.locator("canvas, svg").first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator('[data-testid="stException"]').count() == 0
    statuses = set(card_statuses(page).values())
    assert {"On target", "Off target"} <= statuses or {"On target", "At risk"} <= statuses
    if os.environ.get("KPI_UPDATE_SCREENSHOT"):
        page.screenshot(path=str(ROOT / "docs" / "screenshot.png"), full_page=False)
    page.close()


def test_upload_messy_csv_shows_its_row_count(app_url: str, browser, tmp_path: Path) -> None:
    rows = [["  Order Date ", "Region", "Amount", "Amount"]]
    rows += [
        [f"{m}/{d}/2024", "Nord;Ost", f"$1,{d:03d}.50", "NA"]
        for m in range(1, 13)
        for d in range(1, 29)
    ]
    path = tmp_path / "messy export.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
    expected_rows = len(rows) - 1

    page = browser.new_page()
    page.goto(f"{app_url}/data")
    wait_for_app(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(path))
    message = page.get_by_text(re.compile(rf"loaded {expected_rows:,} rows"))
    message.wait_for(timeout=TIMEOUT_MS)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()
