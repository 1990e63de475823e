"""The dashboard report in a real Chromium: the download made on click by the real server (the
callable runs on its own thread there) is a PDF of the view the page shows."""

from __future__ import annotations

import io
import json
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
import pypdf
import pytest

from kpi_logic.kpi_file import kpis_from_yaml
from tests.test_app import ROOT, SAMPLE_KPIS
from tests.test_browser import TIMEOUT_MS, wait_for_app

pytestmark = pytest.mark.browser


def test_the_dashboard_downloads_as_a_pdf_of_the_view(app_url: str, browser) -> None:
    sample = pd.read_csv(ROOT / "data" / "sample_sales.csv", parse_dates=["Date"])
    west = sample[(sample["Region"] == "West") & (sample["Date"].dt.to_period("M") == "2024-12")]
    query = urlencode({"f": json.dumps({"Region": ["West"]})})
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{app_url}/?{query}")
    wait_for_app(page)
    page.get_by_text("Download this dashboard").click()
    button = page.get_by_role("button", name="Dashboard as PDF")
    button.wait_for(timeout=TIMEOUT_MS)
    with page.expect_download(timeout=TIMEOUT_MS) as download:
        button.click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    assert download.value.suggested_filename == "kpi_dashboard.pdf"
    text = " ".join(
        " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages).split()
    )
    for kpi in kpis_from_yaml(SAMPLE_KPIS.read_text("utf-8")):
        assert kpi.name in text, kpi.name
    assert "Region: West" in text
    revenue = west["Revenue"].sum()
    assert 10_000 <= revenue < 999_950  # the card writes thousands with one decimal
    assert f"${revenue / 1e3:.1f}K" in text  # the Revenue card, West only
    assert page.locator('[data-testid="stException"]').count() == 0
    context.close()
