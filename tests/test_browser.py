"""The real app in a real browser: Debian's Chromium driven by Playwright against
`streamlit run`. Covers what AppTest cannot: JavaScript charts, uploads through the page,
slider keys, and the address bar as a share link."""

from __future__ import annotations

import csv
import datetime
import json
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from tests.conftest import running_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_MS = 120_000  # a cold server on a busy 2-core machine


APP_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def wait_for_app(page) -> None:
    """Wait until Streamlit has finished the current run: the app root's script state (which
    Streamlit's own browser tests wait on) reads "notRunning". Its status widget is no signal:
    it only appears after a run has lasted half a second. Under load the state can change
    before the run's last elements are drawn: wait on an element itself when it matters."""
    page.wait_for_selector(APP_IDLE, timeout=TIMEOUT_MS)


CARD_STATUSES_JS = """() => Object.fromEntries(
    [...document.querySelectorAll('[class*="st-key-card_"]')]
    .filter(card => card.querySelector('[data-testid="stMetricLabel"]'))  // drawn cards only
    .map(card => {
        const label = card.querySelector('[data-testid="stMetricLabel"]').innerText.trim();
        const found = card.innerText.match(/(On target|At risk|Off target|No target|No data)/);
        return [label, found ? found[1] : ''];
    }))"""


def card_statuses(page) -> dict[str, str]:
    """KPI name -> status text, read off the cards on the dashboard."""
    return page.evaluate(CARD_STATUSES_JS)


def test_serve_py_starts_warm_and_shows_the_sample_dashboard(tmp_path: Path, browser) -> None:
    """The README's start command (``streamlit run serve.py``) on an empty store: the app has
    run once before the server answers its health check (the sample is already in the store),
    and the first visitor sees the cards and drawn charts."""
    store = tmp_path / "store" / "kpi_store.duckdb"
    with running_app(store, tmp_path, entry="serve.py") as url:
        assert store.exists(), "serve.py answered before running the app once"
        sources = [json.loads(f.read_text()) for f in (store.parent / "uploads").glob("*.json")]
        assert [Path(s["path"]).name for s in sources] == ["sample_sales.csv"]
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(url)
        shows_cards_and_drawn_charts(page)


def shows_cards_and_drawn_charts(page) -> None:
    """The sample dashboard's cards, with statuses, and a drawn chart; no error."""
    # the run's end can show before its last elements are drawn: wait for the cards themselves
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"stMetricValue\"]').length >= 8",
        timeout=TIMEOUT_MS,
    )
    wait_for_app(page)
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.wait_for(timeout=TIMEOUT_MS)
    chart.locator("canvas, svg").first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator('[data-testid="stException"]').count() == 0
    statuses = set(card_statuses(page).values())
    assert {"On target", "Off target"} <= statuses or {"On target", "At risk"} <= statuses
    if os.environ.get("KPI_UPDATE_SCREENSHOT"):
        page.screenshot(path=str(ROOT / "docs" / "screenshot.png"), full_page=False)
    page.close()


def card_status_of(page, name: str) -> str:
    """The status shown on the card of KPI ``name``."""
    return card_statuses(page).get(name, "")


def test_moving_a_target_slider_changes_a_card_status(app_url: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(app_url)
    page.wait_for_function(  # the card itself: the run's end can show before it is drawn
        f"() => ({CARD_STATUSES_JS})()['Revenue'] === 'On target'", timeout=TIMEOUT_MS
    )
    wait_for_app(page)
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="All categories together")
    thumb = slider.get_by_role("slider")
    thumb.focus()
    thumb.press("End")  # the far end: 1.5 times the saved target, out of reach
    page.wait_for_function(
        f"() => ({CARD_STATUSES_JS})()['Revenue'] === 'Off target'", timeout=TIMEOUT_MS
    )
    wait_for_app(page)
    assert card_status_of(page, "Revenue") == "Off target"
    page.wait_for_url(re.compile(r"[?&]t=.*Revenue"), timeout=TIMEOUT_MS)  # a share link
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


def test_clicking_a_bar_drills_down_to_that_category(app_url: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 2600})
    page.goto(app_url)
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=TIMEOUT_MS)
    wait_for_app(page)
    bullet = page.locator('[data-testid="stVegaLiteChart"]').first
    bar = bullet.locator("svg path[aria-label^='Actual:'][aria-label*='Region: North;']")
    bar.wait_for(timeout=TIMEOUT_MS)
    bar.click()
    page.wait_for_url(re.compile(r"[?&]f=.*North"), timeout=TIMEOUT_MS)
    wait_for_app(page)
    regions = bullet.locator("svg path[aria-label^='Actual:']")
    expect(regions).to_have_count(1, timeout=TIMEOUT_MS)  # the chart redraws with North only
    labels = regions.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    assert labels
    assert all("Region: North;" in label for label in labels)
    page.wait_for_function(  # North against North's target: on target
        f"() => ({CARD_STATUSES_JS})()['Revenue'] === 'On target'", timeout=TIMEOUT_MS
    )
    assert card_status_of(page, "Revenue") == "On target"
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


def type_in_grid(page, grid, text: str) -> None:
    """Type ``text`` into the first row's target (the second column) of an editable grid, as
    a keyboard user would: the grid draws on a canvas, so it is focused through its accessible
    table (its editor opens on the first cell), then the arrow key moves to the target; each
    step waits on what the page shows, and the typed value must show in the cell."""
    cell = grid.locator('[id="glide-cell-1-0"]')
    cell.wait_for(state="attached", timeout=TIMEOUT_MS)
    editor = page.locator(".gdg-input").first
    cell.focus()
    page.keyboard.press("Enter")
    editor.wait_for(timeout=TIMEOUT_MS)  # on the first column (the category, read-only)
    page.keyboard.press("Escape")
    editor.wait_for(state="detached", timeout=TIMEOUT_MS)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(editor).to_have_value(cell.inner_text().strip(), timeout=TIMEOUT_MS)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    expect(editor).to_have_value(text)
    page.keyboard.press("Enter")
    expect(cell).to_have_text(re.compile(text[:3] + ",?" + text[3:]), timeout=TIMEOUT_MS)
    wait_for_app(page)


def test_a_target_typed_for_a_category_reaches_the_chart(app_url: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    page.goto(app_url)
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=TIMEOUT_MS)
    wait_for_app(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.locator("summary", has_text="Per Region").click()
    per_region = sidebar.locator('[data-testid="stExpander"]', has_text="Per Region")
    exact = per_region.locator('[data-testid="stNumberInput"] input').first
    exact.fill("777777")
    exact.press("Enter")
    page.wait_for_url(re.compile(r"[?&]t="), timeout=TIMEOUT_MS)
    wait_for_app(page)
    params = parse_qs(urlparse(page.url).query)
    targets = json.loads(params["t"][0])
    assert len(targets) == 1
    assert list(targets.values()) == [777777.0]
    region = next(iter(targets)).split("@", 1)[1]
    tick = page.locator(
        f"[data-testid='stVegaLiteChart'] svg path[aria-label^='target:']"
        f"[aria-label*='Region: {region};']"
    ).first
    # the chart redraws after the address bar changes: wait for the new target on the tick
    expect(tick).to_have_attribute(
        "aria-label", re.compile(r"Target: \$777,777"), timeout=TIMEOUT_MS
    )
    page.close()


def test_a_target_move_redraws_the_slider_the_card_and_the_open_share_link(
    app_url: str, browser
) -> None:
    """A target move reruns only the cards, charts, targets panel and link (fragments): the
    slider follows the exact field, the card is re-judged, and the share link already open in
    the sidebar carries the new target, as the address bar does."""
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(app_url)
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=TIMEOUT_MS)
    wait_for_app(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Share this view").click()
    link = sidebar.locator('[data-testid="stCode"]')
    link.wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page)
    exact = sidebar.locator('[data-testid="stNumberInput"]').filter(has_text="Exact").first
    slider = sidebar.get_by_role("slider").first
    for typed, shown in (("3000000", "3000000"), ("1000", None)):
        exact.locator("input").fill(typed)
        exact.locator("input").press("Enter")
        expect(link).to_contain_text(re.compile(rf"Revenue%22%3A{typed}\.0"), timeout=TIMEOUT_MS)
        wait_for_app(page)
        assert json.loads(parse_qs(urlparse(page.url).query)["t"][0]) == {"Revenue": float(typed)}
        if shown is not None:  # within the slider's reach: the thumb moved to it
            expect(slider).to_have_value(shown, timeout=TIMEOUT_MS)
    page.wait_for_function(  # a target of 1,000 is met by any month of the sample
        f"() => ({CARD_STATUSES_JS})()['Revenue'] === 'On target'", timeout=TIMEOUT_MS
    )
    expect(sidebar.get_by_text("Unsaved targets")).to_be_visible()
    # a KPI picked below the cards (inside their fragment) brings its targets to the sidebar
    wait_for_app(page)  # the list would close when a run redraws the box
    page.get_by_role("combobox", name="KPI to explore").click()
    page.keyboard.type("Profit Margin")  # the box filters its list as one types
    page.get_by_role("option", name="Profit Margin", exact=True).click()
    expect(sidebar.get_by_text("Targets · Profit Margin")).to_be_visible(timeout=TIMEOUT_MS)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


def test_a_target_typed_in_the_period_grid_reaches_the_heatmap(app_url: str, browser) -> None:
    """A single month's target of one region (typed in the "Per month" grid, labelled with
    whose targets it holds) applies to that region in that month only; the others keep theirs.
    """
    page = browser.new_page(viewport={"width": 1400, "height": 2600})
    page.goto(app_url)
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=TIMEOUT_MS)
    wait_for_app(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.locator("summary", has_text="Per month").click()
    sidebar.get_by_text("Targets of single periods of the total").wait_for(timeout=TIMEOUT_MS)
    sidebar.locator('[data-testid="stSelectbox"]', has_text="Targets of").click()
    page.get_by_role("option", name="West").click()
    sidebar.get_by_text("Targets of single periods of West only").wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page)
    # West's own grid (its key's class): the total's may still be on the page for a moment,
    # as the end of a run can show before its last elements are drawn
    west_grid = sidebar.locator('.st-key-periods--Revenue--West [data-testid="stDataFrame"]')
    type_in_grid(page, west_grid, "555555")
    sidebar.get_by_role("button", name="Use these period targets").click()
    page.wait_for_url(re.compile(r"[?&]t="), timeout=TIMEOUT_MS)
    wait_for_app(page)
    targets = json.loads(parse_qs(urlparse(page.url).query)["t"][0])
    assert len(targets) == 1
    assert list(targets.values()) == [555555.0]
    kpi, day = next(iter(targets)).split("|")
    assert kpi == "Revenue@West"
    month = datetime.date.fromisoformat(day).strftime("%b %Y")
    cell = "[data-testid='stVegaLiteChart'] svg path[aria-label*='Region: West;']"
    west = page.locator(f"{cell}[aria-label*='Period: {month};']").first
    expect(west).to_have_attribute(
        "aria-label", re.compile(r"Target: \$555,555"), timeout=TIMEOUT_MS
    )
    north = page.locator(cell.replace("West", "North") + f"[aria-label*='Period: {month};']")
    assert "Target: $1,100,000" in north.first.get_attribute("aria-label")  # has its own
    assert page.locator('[data-testid="stException"]').count() == 0
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


def test_a_copied_link_opens_the_same_view_in_a_fresh_browser(
    app_url: str, browser, tmp_path: Path
) -> None:
    teams = ["Alpha", "Beta", "Gamma"]
    rows = [["Day", "Team", "Amount"]]
    rows += [[f"2024-03-{1 + i % 28:02d}", teams[i % 3], str(10 + i % 17)] for i in range(777)]
    path = tmp_path / "team amounts.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    expected_total = sum(int(r[2]) for r in rows[1:])

    first = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = first.new_page()
    page.goto(f"{app_url}/data")
    wait_for_app(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(path))
    page.get_by_text("loaded 777 rows").wait_for(timeout=TIMEOUT_MS)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Dashboard").click()
    page.get_by_text("This dataset has no KPI yet").wait_for(timeout=TIMEOUT_MS)
    sidebar = page.locator('[data-testid="stSidebar"]')
    page.get_by_role("button", name="Add a KPI", exact=True).click()  # opens the editor
    editor = page.get_by_role("dialog")
    name = editor.get_by_label("Name", exact=True)
    name.fill("Team amount")
    name.press("Enter")
    wait_for_app(page)
    editor.get_by_role("button", name="Add KPI", exact=True).click()
    page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page)
    exact = sidebar.locator('[data-testid="stNumberInput"]').filter(has_text="Exact").first
    exact.locator("input").fill("12345")
    exact.locator("input").press("Enter")
    page.wait_for_url(re.compile(r"[?&]t="), timeout=TIMEOUT_MS)
    wait_for_app(page)
    sidebar.get_by_text("Share this view").click()
    link = sidebar.locator('[data-testid="stCode"]').inner_text().strip()
    assert "t=" in link
    assert link.startswith(app_url)
    first.close()

    fresh = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = fresh.new_page()
    page.goto(link)
    page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page)
    assert page.locator('[data-testid="stMetricLabel"]').first.inner_text().strip() == (
        "Team amount"
    )
    assert page.locator('[data-testid="stMetricValue"]').first.inner_text().strip() == (
        f"{expected_total / 1000:.1f}K" if expected_total >= 10_000 else f"{expected_total:,}"
    )
    exact = page.locator('[data-testid="stSidebar"] [data-testid="stNumberInput"]')
    expect(exact.filter(has_text="Exact").first.locator("input")).to_have_value(
        re.compile(r"^12,?345(\.0*)?$"), timeout=TIMEOUT_MS
    )  # the target from the link, once the sidebar is drawn
    page.get_by_text("777 rows").first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator('[data-testid="stException"]').count() == 0
    fresh.close()
