"""The dashboard and the KPI editor on a phone (390x844) and a laptop (1400x1000) in Chromium:
layout facts measured in the page (cards per row, charts' widths, no sideways scrolling, the
editor's fields inside the viewport), with a screenshot of each state saved under the test's
temporary folder (its path is in every assertion message)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.test_browser import ROOT, TIMEOUT_MS, wait_for_app

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1400, "height": 1000}

LAYOUT_JS = """() => {
    const box = el => { const r = el.getBoundingClientRect();
        return {x: r.x, y: r.y + window.scrollY, w: r.width, h: r.height}; };
    const cards = [...document.querySelectorAll('[class*="st-key-card_"]')]
        .filter(c => c.querySelector('[data-testid="stMetricValue"]')).map(box);
    const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
        .map(box).filter(b => b.w > 0);
    const sidebar = document.querySelector('[data-testid="stSidebar"]');
    const side = sidebar ? sidebar.getBoundingClientRect() : {right: 0, width: 0};
    return {
        cards, charts,
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        sidebarOnScreen: side.width > 0 && side.right > 0,  // drawn over or beside the page
    };
}"""

WIDGETS = ["stTextInput", "stSelectbox", "stNumberInput", "stDateInput", "stTextArea", "stRadio"]
DIALOG_FIELDS_JS = """() => {
    const dialog = document.querySelector('[role="dialog"]');
    const selector = WIDGETS.map(id => `[data-testid="${id}"]`).join(', ');
    const fields = [...dialog.querySelectorAll(selector)]
        .filter(f => f.getBoundingClientRect().width > 0);
    return {
        dialog: (r => ({x: r.x, w: r.width}))(dialog.getBoundingClientRect()),
        fields: fields.map(f => { const r = f.getBoundingClientRect();
            return {label: f.innerText.split('\\n')[0], x: r.x, right: r.right, w: r.width}; }),
        innerWidth: window.innerWidth,
    };
}""".replace("WIDGETS", json.dumps(WIDGETS))


def rows_of(cards: list[dict]) -> list[list[dict]]:
    """Cards grouped by the row they are drawn in (same top, within 2 px)."""
    rows: list[list[dict]] = []
    for card in sorted(cards, key=lambda c: (c["y"], c["x"])):
        if rows and abs(rows[-1][0]["y"] - card["y"]) <= 2:
            rows[-1].append(card)
        else:
            rows.append([card])
    return rows


def north_revenue_last_month() -> float:
    """The sample's revenue of region North in its last month, by pandas."""
    sample = pd.read_csv(ROOT / "data" / "sample_sales.csv", parse_dates=["Date"])
    month = sample["Date"].dt.to_period("M")
    latest = sample[(month == month.max()) & (sample["Region"] == "North")]
    return float(latest["Revenue"].sum())


def open_dashboard(browser, url: str, viewport: dict) -> object:
    page = browser.new_page(viewport=viewport)
    page.goto(url)
    # every card (the sample's ten) itself: the run's end can show before they are all drawn
    expect(page.locator('[data-testid="stMetricValue"]')).to_have_count(10, timeout=TIMEOUT_MS)
    wait_for_app(page)
    page.locator('[data-testid="stVegaLiteChart"]').last.locator("svg, canvas").first.wait_for(
        timeout=TIMEOUT_MS
    )
    return page


def open_editor(page, button: str) -> object:
    """Click ``button`` on the main area; the editor's dialog once it shows its fields."""
    page.locator('[data-testid="stMain"]').get_by_role("button", name=button).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page)
    return dialog


def check_editor_fits(page, shot: Path) -> None:
    page.screenshot(path=str(shot))
    facts = page.evaluate(DIALOG_FIELDS_JS)
    width = facts["innerWidth"]
    assert facts["dialog"]["x"] >= 0, (facts["dialog"], str(shot))
    assert facts["dialog"]["x"] + facts["dialog"]["w"] <= width, (facts["dialog"], str(shot))
    assert len(facts["fields"]) >= 8, (facts["fields"], str(shot))
    outside = [f for f in facts["fields"] if f["x"] < 0 or f["right"] > width + 0.5]
    assert outside == [], (outside, str(shot))


def test_on_a_phone_cards_stack_charts_fit_and_the_editor_adds_a_kpi(
    app_url: str, browser, tmp_path: Path
) -> None:
    page = open_dashboard(browser, app_url, PHONE)
    shot = tmp_path / "phone-dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    facts = page.evaluate(LAYOUT_JS)
    assert not facts["sidebarOnScreen"], f"the sidebar covers the page: {shot}"
    assert facts["scrollWidth"] <= facts["innerWidth"], (facts["scrollWidth"], str(shot))
    rows = rows_of(facts["cards"])
    assert len(facts["cards"]) == 10, str(shot)
    assert [len(r) for r in rows] == [1] * 10, (rows, str(shot))  # one card per row
    assert all(c["w"] >= 0.8 * PHONE["width"] - 40 for c in facts["cards"]), str(shot)
    assert facts["charts"], str(shot)
    for chart in facts["charts"]:  # as wide as the screen allows, never wider
        assert chart["x"] >= 0, (chart, str(shot))
        assert chart["x"] + chart["w"] <= PHONE["width"], (chart, str(shot))
        assert chart["w"] >= 0.75 * PHONE["width"], (chart, str(shot))

    dialog = open_editor(page, "Add a KPI")
    check_editor_fits(page, tmp_path / "phone-editor.png")
    name = dialog.get_by_label("Name", exact=True)
    name.fill("Phone-made revenue")
    name.press("Enter")
    wait_for_app(page)
    preview = dialog.locator('[data-testid="stMetricLabel"]', has_text="Preview")
    preview.wait_for(timeout=TIMEOUT_MS)
    dialog.get_by_role("button", name="Add KPI", exact=True).click()
    page.get_by_role("dialog").wait_for(state="detached", timeout=TIMEOUT_MS)
    card = page.locator('[data-testid="stMetricLabel"]', has_text="Phone-made revenue")
    card.wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page)
    shot = tmp_path / "phone-added.png"
    page.screenshot(path=str(shot))
    assert page.locator('[data-testid="stException"]').count() == 0, str(shot)
    page.close()


def test_on_a_laptop_cards_share_rows_and_the_editor_opens_prefilled(
    app_url: str, browser, tmp_path: Path
) -> None:
    page = open_dashboard(browser, app_url, LAPTOP)
    shot = tmp_path / "laptop-dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    facts = page.evaluate(LAYOUT_JS)
    assert facts["scrollWidth"] <= facts["innerWidth"], (facts["scrollWidth"], str(shot))
    assert facts["sidebarOnScreen"], f"the sidebar is open beside the page: {shot}"
    rows = rows_of(facts["cards"])
    assert len(facts["cards"]) == 10, str(shot)
    assert max(len(r) for r in rows) >= 3, (rows, str(shot))  # several cards per row
    assert len(rows) <= 4, (rows, str(shot))

    dialog = open_editor(page, "Edit “Revenue”")
    check_editor_fits(page, tmp_path / "laptop-editor.png")
    assert dialog.get_by_label("Name", exact=True).input_value() == "Revenue"
    for group in ("What to measure", "Over time and by category", "Target and ownership"):
        assert dialog.get_by_text(group, exact=True).is_visible(), group
    # typing reruns the dialog alone (a fragment, which AppTest does not run): the problem
    # shows under the field, then the preview follows the fixed filter
    filter_field = dialog.get_by_role("textbox", name="Filter (optional)")
    filter_field.fill("\"Regio\" = 'North'")
    filter_field.press("Enter")
    problem = dialog.locator('[data-testid="stAlertContentError"]', has_text='"Region"')
    problem.wait_for(timeout=TIMEOUT_MS)
    filter_field.fill("\"Region\" = 'North'")
    filter_field.press("Enter")
    problem.wait_for(state="detached", timeout=TIMEOUT_MS)
    north = f"${north_revenue_last_month() / 1e6:.1f}M"
    value = dialog.locator('[data-testid="stMetricValue"]')
    expect(value).to_have_text(north, timeout=TIMEOUT_MS)
    page.screenshot(path=str(tmp_path / "laptop-editor-filtered.png"))
    page.keyboard.press("Escape")
    page.get_by_role("dialog").wait_for(state="detached", timeout=TIMEOUT_MS)
    wait_for_app(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()
