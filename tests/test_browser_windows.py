"""Time windows and unsaved targets in a real Chromium: a shared link carrying a window, a
date, a what-if target and a category filter opens in a fresh browser on the same cards, a
drill-down judges the total on the picked region's targets, a quick range sets the dates, and
a total split by last year's shares travels in the link."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlencode, urlparse

import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.test_app import ROOT
from tests.test_browser import TIMEOUT_MS, wait_for_app

pytestmark = pytest.mark.browser


def revenue_card(page):
    return page.locator('[class*="st-key-card_"]').filter(has_text="Revenue").first


def test_a_link_with_a_window_a_target_and_a_filter_opens_the_same_cards(
    app_url: str, browser
) -> None:
    sample = pd.read_csv(ROOT / "data" / "sample_sales.csv", parse_dates=["Date"])
    ytd = sample[(sample["Date"] >= "2024-01-01") & (sample["Date"] <= "2024-05-15")]
    query = urlencode({"w": "ytd", "to": "2024-05-15", "t": json.dumps({"Revenue": 5_000_000})})
    context = browser.new_context()  # a fresh browser: nothing but the link
    page = context.new_page()
    page.goto(f"{app_url}/?{query}")
    wait_for_app(page)
    card = revenue_card(page)
    total = ytd["Revenue"].sum()
    target = 5_000_000 * (4 + 15 / 31)  # the unsaved total target, May pro-rated
    expect(card).to_contain_text(f"${total / 1e6:.1f}M", timeout=TIMEOUT_MS)
    expect(card).to_contain_text(f"{total / target:.0%} of target (${target / 1e6:.1f}M)")
    expect(card).to_contain_text("01 Jan 2024 – 15 May 2024")
    # the same link with a drill-down into West: the total is West's, judged on West's target
    west = ytd[ytd["Region"] == "West"]["Revenue"].sum()
    west_target = 1_000_000 * (4 + 15 / 31)
    page.goto(f"{app_url}/?{query}&{urlencode({'f': json.dumps({'Region': ['West']})})}")
    wait_for_app(page)
    card = revenue_card(page)
    expect(card).to_contain_text(f"${west / 1e6:.1f}M", timeout=TIMEOUT_MS)
    expect(card).to_contain_text(f"{west / west_target:.0%} of target (${west_target / 1e6:.1f}M)")
    assert page.locator('[data-testid="stException"]').count() == 0
    context.close()


def test_a_quick_range_sets_the_dates_and_the_cards(app_url: str, browser) -> None:
    """ "Last month" in the quick range sets the date filter to November 2024 (the sample's
    last full month before its last date): the link says so and the card shows November."""
    sample = pd.read_csv(ROOT / "data" / "sample_sales.csv", parse_dates=["Date"])
    november = sample[sample["Date"].dt.strftime("%Y-%m") == "2024-11"]["Revenue"].sum()
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(app_url)
    wait_for_app(page)
    page.locator('[data-testid="stSelectbox"]', has_text="Quick range").click()
    page.get_by_role("option", name="Last month").click()
    page.wait_for_url(re.compile(r"[?&]to=2024-11-30"), timeout=TIMEOUT_MS)
    wait_for_app(page)
    params = parse_qs(urlparse(page.url).query)
    assert (params["from"], params["to"]) == (["2024-11-01"], ["2024-11-30"])
    expect(revenue_card(page)).to_contain_text(f"${november / 1e6:.1f}M", timeout=TIMEOUT_MS)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


def test_a_total_split_by_last_years_shares_reaches_a_fresh_browser(app_url: str, browser) -> None:
    """ "Split the total over Region" by last year's shares gives each region its 2023 share
    of the 4,000,000 total as an unsaved target; the link opened in a fresh browser with a
    drill-down into West judges West's December on West's share."""
    sample = pd.read_csv(ROOT / "data" / "sample_sales.csv", parse_dates=["Date"])
    year_2023 = sample[sample["Date"].dt.year == 2023]
    shares = year_2023.groupby("Region")["Revenue"].sum() / year_2023["Revenue"].sum()
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    page.goto(app_url)
    wait_for_app(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.locator("summary", has_text="Allocate a target").click()
    how = sidebar.locator('[data-testid="stRadio"]', has_text="Split the total over")
    how.get_by_text("By last year's shares").click()
    wait_for_app(page)
    sidebar.get_by_role("button", name="Split the total over Region").click()
    page.wait_for_url(re.compile(r"[?&]t="), timeout=TIMEOUT_MS)
    wait_for_app(page)
    tried = json.loads(parse_qs(urlparse(page.url).query)["t"][0])
    assert {k: v for k, v in tried.items() if "@" in k} == pytest.approx(
        {f"Revenue@{region}": 4_000_000 * share for region, share in shares.items()}
    )
    context = browser.new_context()  # a fresh browser: nothing but the link
    fresh = context.new_page()
    fresh.goto(f"{page.url}&{urlencode({'f': json.dumps({'Region': ['West']})})}")
    wait_for_app(fresh)
    west = sample[(sample["Region"] == "West") & (sample["Date"].dt.strftime("%Y-%m") == "2024-12")]
    west_target = 4_000_000 * shares["West"]
    expect(revenue_card(fresh)).to_contain_text(
        f"{west['Revenue'].sum() / west_target:.0%} of target", timeout=TIMEOUT_MS
    )
    assert fresh.locator('[data-testid="stException"]').count() == 0
    context.close()
    page.close()
