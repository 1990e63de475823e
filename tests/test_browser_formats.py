"""Formats only a browser shows: a chart tooltip over a period without a target says "—"
(Vega-Lite wrote "null"), and a target slider's label reads in the KPI set's currency with
thousands separators. The app runs over a store of the test's own (tests/test_app_formats)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import running_app
from tests.test_app_formats import make_euro_store
from tests.test_browser import TIMEOUT_MS, wait_for_app

pytestmark = pytest.mark.browser


def test_tooltips_show_a_dash_not_null_and_sliders_read_in_euros(tmp_path: Path, browser) -> None:
    store = tmp_path / "store" / "kpi_store.duckdb"
    frame = make_euro_store(store, tmp_path)
    orders = frame.groupby("month").size()  # Orders: count(*) per month, no target
    with running_app(store, tmp_path) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(f"{url}/?kpi=Orders")
        page.wait_for_selector('[data-testid="stMetricValue"]', timeout=TIMEOUT_MS)
        wait_for_app(page)
        # the trend's points: hover the last month's and read the tooltip Vega draws
        trend = page.locator('[data-testid="stVegaLiteChart"]').filter(has_text="Trend")
        point = trend.locator("svg path[aria-label*='Status: ']").last
        point.wait_for(timeout=TIMEOUT_MS)
        point.hover(force=True)
        tooltip = page.locator("#vg-tooltip-element")
        tooltip.wait_for(state="visible", timeout=TIMEOUT_MS)
        text = tooltip.inner_text()
        assert f"Actual{orders.iloc[-1]:,}" in text.replace("\t", "").replace("\n", "")
        assert "Target" in text
        assert "—" in text  # no target: a dash
        assert "null" not in text.lower()
        # the target slider of Sales, labelled in euros
        page.goto(f"{url}/?kpi=Sales")
        wait_for_app(page)
        slider = page.locator('[data-testid="stSlider"]').filter(has_text="All categories")
        value = slider.locator('[data-testid="stSliderThumbValue"]')
        value.wait_for(timeout=TIMEOUT_MS)
        assert value.inner_text().strip() == "€100,000"
        assert page.locator('[data-testid="stException"]').count() == 0
        page.close()
