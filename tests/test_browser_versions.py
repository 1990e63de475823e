"""Versions and the team store in a real browser (Debian's Chromium, Playwright) against
`streamlit run`: a same-name upload becomes a new version after its schema diff, the address
bar follows the latest version and pins one; and an app on a PostgreSQL team store, stopped
and started again on an empty disk, opens an old link with the same rows, KPI, target and
note."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.conftest import running_app
from tests.test_browser import TIMEOUT_MS, wait_for_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent


def upload(page, path: Path, index: int = 0) -> None:
    page.locator('[data-testid="stFileUploader"] input[type="file"]').nth(index).set_input_files(
        str(path)
    )


def test_a_same_name_upload_becomes_a_version_and_links_follow_or_pin_it(
    app_url: str, browser, tmp_path: Path
) -> None:
    sample = pd.read_csv(ROOT / "data" / "sample_sales.csv")
    renamed = tmp_path / "bad" / "sample_sales.csv"
    renamed.parent.mkdir()
    sample.rename(columns={"Revenue": "Sales"}).head(500).to_csv(renamed, index=False)
    newer = tmp_path / "new" / "sample_sales.csv"
    newer.parent.mkdir()
    recent = sample[sample["Date"] >= "2024-07-01"]
    recent.to_csv(newer, index=False)

    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    page.goto(f"{app_url}/data")
    wait_for_app(page)
    upload(page, renamed)
    page.get_by_text("A dataset named sample_sales.csv is already here").wait_for(
        timeout=TIMEOUT_MS
    )
    page.get_by_role("button", name="Continue").click()
    broken = page.get_by_text("These KPIs would break")
    broken.wait_for(timeout=TIMEOUT_MS)
    alert = page.locator('[data-testid="stAlert"]').filter(has_text="These KPIs would break")
    expect(alert).to_contain_text("Revenue (Sample KPIs)", timeout=TIMEOUT_MS)
    expect(page.locator(".st-key-version_check")).to_contain_text(
        "Removed: Revenue", timeout=TIMEOUT_MS
    )
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("These KPIs would break").wait_for(state="detached", timeout=TIMEOUT_MS)

    upload(page, newer)
    page.get_by_role("button", name="Continue").wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("Same columns and types as version 1").wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Go on: make it version 2").click()
    page.get_by_text(
        f"Version 2 of Sample sales (bundled). sample_sales.csv: {len(recent):,} rows"
    ).wait_for(timeout=TIMEOUT_MS)
    page.get_by_text(re.compile(r"Sample sales \(bundled\) · version 2 · ")).first.wait_for(
        timeout=TIMEOUT_MS
    )
    wait_for_app(page)
    assert "dv=" not in page.url  # the address follows the latest version
    link = page.url

    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Share this view").click()
    sidebar.get_by_text("Pin this version (version 2)").click()
    page.wait_for_url(re.compile(r"[?&]dv=2"), timeout=TIMEOUT_MS)
    pinned = page.url
    context.close()

    fresh = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = fresh.new_page()
    page.goto(pinned)
    page.get_by_text(re.compile(r"version 2 · ")).first.wait_for(timeout=TIMEOUT_MS)
    page.goto(link)
    page.get_by_text(f"{len(recent):,} rows from").first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator('[data-testid="stException"]').count() == 0
    fresh.close()


def test_an_app_on_postgres_restarted_on_an_empty_disk_opens_the_old_link(
    browser, tmp_path: Path, postgres_url: str
) -> None:
    rows = [["Day", "Team", "Amount"]]
    rows += [
        [f"2024-05-{1 + i % 28:02d}", ["Ana", "Bo"][i % 2], str(5 + i % 11)] for i in range(555)
    ]
    path = tmp_path / "team sales.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    total = sum(int(r[2]) for r in rows[1:])

    disk = tmp_path / "disk"
    env = {"KPI_STORE": postgres_url, "KPI_DATA_DIR": str(disk)}
    with running_app(disk / "unused", tmp_path, env=env) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1800})
        page = context.new_page()
        page.goto(f"{url}/data")
        wait_for_app(page)
        upload(page, path)
        page.get_by_text("loaded 555 rows").wait_for(timeout=TIMEOUT_MS)
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Dashboard").click()
        page.get_by_text("This dataset has no KPI yet").wait_for(timeout=TIMEOUT_MS)
        # the dashboard (the app's root) writes its link too
        page.wait_for_url(re.compile(r"^(?!.*/data\?).*[?&]ds="), timeout=TIMEOUT_MS)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("Share this view").wait_for(timeout=TIMEOUT_MS)  # and its panel
        page.get_by_role("button", name="Add a KPI", exact=True).click()
        editor = page.get_by_role("dialog")
        name = editor.get_by_label("Name", exact=True)
        name.fill("Team sales")
        name.press("Enter")
        wait_for_app(page)
        editor.get_by_role("button", name="Add KPI", exact=True).click()
        page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=TIMEOUT_MS)
        wait_for_app(page)
        exact = sidebar.locator('[data-testid="stNumberInput"]').filter(has_text="Exact").first
        exact.locator("input").fill("4321")
        exact.locator("input").press("Enter")
        page.wait_for_url(re.compile(r"[?&]t="), timeout=TIMEOUT_MS)  # tried, not saved yet
        wait_for_app(page)
        sidebar.get_by_role("button", name="Save targets").click()
        page.wait_for_function(  # saved: the link no longer carries it
            "() => !new URLSearchParams(location.search).has('t')", timeout=TIMEOUT_MS
        )
        wait_for_app(page)
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Review").click()
        note = page.get_by_label("Note", exact=True)
        note.wait_for(timeout=TIMEOUT_MS)
        note.fill("Bo is on holiday in May")
        page.get_by_role("button", name="Add note").click()
        page.get_by_text("Bo is on holiday in May").first.wait_for(
            state="attached", timeout=TIMEOUT_MS
        )
        wait_for_app(page)
        old_link = page.url
        assert "ds=" in old_link
        assert "t=" not in old_link  # the target shown later is the saved one, not the link's
        context.close()
    shutil.rmtree(disk)  # the host wiped the disk

    with running_app(disk / "unused", tmp_path, env=env) as url:
        parts = urlsplit(old_link)
        link = urlunsplit((*urlsplit(url)[:2], parts.path, parts.query, ""))
        fresh = browser.new_context(viewport={"width": 1400, "height": 1800})
        page = fresh.new_page()
        page.goto(link)
        page.get_by_text("Bo is on holiday in May").first.wait_for(
            state="attached", timeout=TIMEOUT_MS
        )
        page.get_by_text("555 rows from").first.wait_for(timeout=TIMEOUT_MS)
        assert not page.get_by_text("Sample sales (bundled)").count()
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Dashboard").click()
        page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=TIMEOUT_MS)
        wait_for_app(page)
        assert page.locator('[data-testid="stMetricLabel"]').first.inner_text().strip() == (
            "Team sales"
        )
        shown = page.locator('[data-testid="stMetricValue"]').first.inner_text().strip()
        assert shown == f"{total:,}"
        exact = page.locator('[data-testid="stSidebar"] [data-testid="stNumberInput"]')
        expect(exact.filter(has_text="Exact").first.locator("input")).to_have_value(
            re.compile(r"^4,?321(\.0*)?$"), timeout=TIMEOUT_MS
        )  # the saved target, once the sidebar is drawn
        assert page.locator('[data-testid="stException"]').count() == 0
        fresh.close()


ORDERS = "Order,Day,Amount\n" + "".join(f"o{i},2024-01-{1 + i:02d},{10 + i}\n" for i in range(5))
MORE = "Order,Day,Amount\n" + "".join(f"o{i},2024-02-{1 + i:02d},{100 + i}\n" for i in range(3, 9))


def test_append_by_key_restore_a_pinned_link_and_a_view_of_a_deleted_dataset(
    app_url: str, browser, tmp_path: Path
) -> None:
    first, more = tmp_path / "a" / "orders.csv", tmp_path / "b" / "orders.csv"
    for path, text in ((first, ORDERS), (more, MORE)):
        path.parent.mkdir()
        path.write_text(text)
    known = {line.split(",")[0] for line in ORDERS.splitlines()[1:]}
    new_rows = [line for line in MORE.splitlines()[1:] if line.split(",")[0] not in known]
    skipped = len(MORE.splitlines()) - 1 - len(new_rows)
    total_rows = len(ORDERS.splitlines()) - 1 + len(new_rows)

    context = browser.new_context(viewport={"width": 1400, "height": 2000})
    page = context.new_page()
    page.goto(f"{app_url}/data")
    wait_for_app(page)
    upload(page, first)
    page.get_by_text("orders.csv: loaded 5 rows").wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Share this view").click()
    sidebar.get_by_text("Pin this version (version 1)").click()
    page.wait_for_url(re.compile(r"[?&]dv=1"), timeout=TIMEOUT_MS)
    pinned = page.url
    name = sidebar.get_by_label("Save this view as")
    name.fill("Orders view")
    name.press("Enter")
    wait_for_app(page)
    sidebar.get_by_role("button", name="Save view").click()
    page.get_by_text("Saved view").first.wait_for(timeout=TIMEOUT_MS)

    upload(page, more)
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("Same columns and types as version 1").wait_for(timeout=TIMEOUT_MS)
    page.get_by_test_id("stRadioGroup").get_by_text("Append rows", exact=True).click()
    key = page.locator('[data-testid="stSelectbox"]').filter(
        has_text="Skip rows whose value in this column is already there"
    )
    key.wait_for(timeout=TIMEOUT_MS)
    key.click()
    page.get_by_role("option", name="Order", exact=True).click()
    wait_for_app(page)
    page.get_by_role("button", name="Go on: make it version 2").click()
    message = f"Appended {len(new_rows)} rows from orders.csv; {skipped} rows skipped"
    page.get_by_text(message).wait_for(timeout=TIMEOUT_MS)
    page.get_by_text(f"orders.csv · version 2 · {total_rows} rows").first.wait_for(
        timeout=TIMEOUT_MS
    )

    other = browser.new_context(viewport={"width": 1400, "height": 1600})
    tab = other.new_page()
    tab.goto(pinned)  # the pinned link stays on version 1
    tab.get_by_text(
        "orders.csv · version 1 (pinned; the latest is version 2) · 5 rows"
    ).first.wait_for(timeout=TIMEOUT_MS)
    other.close()

    wait_for_app(page)
    page.get_by_text("Versions (this is version 2)").click()
    page.get_by_role("button", name="Restore version 1").click()
    page.get_by_text("Version 1 of orders.csv is the current one again").wait_for(
        timeout=TIMEOUT_MS
    )
    page.get_by_text("orders.csv · version 1 · 5 rows").first.wait_for(timeout=TIMEOUT_MS)

    page.get_by_text("Delete this dataset").click()
    confirm = page.get_by_role("textbox", name="Type the dataset's name to confirm")
    confirm.wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page)  # the section's own run has ended: the field keeps what is typed
    confirm.fill("orders.csv")
    confirm.press("Enter")
    delete = page.get_by_role("button", name="Delete orders.csv")
    expect(delete).to_be_enabled(timeout=TIMEOUT_MS)
    delete.click()
    page.get_by_text("Sample sales (bundled) · version 1").first.wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page)
    sidebar.locator(".st-key-open_view button").click()
    page.get_by_text(
        "The dataset of this link or view no longer exists; showing “Sample sales (bundled)”"
    ).first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator('[data-testid="stException"]').count() == 0
    context.close()
