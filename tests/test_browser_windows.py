"""Time windows and unsaved targets in a real Chromium: a shared link carrying a window, a
date, a what-if target and a category filter opens in a fresh browser on the same cards, and a
drill-down judges the total on the picked region's targets."""

from __future__ import annotations

import json
from urllib.parse import urlencode

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
