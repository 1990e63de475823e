"""Connect a table in a real browser (issue 14): a PostgreSQL table of orders named in the
secrets is connected on the Data page, a KPI is built with the sidebar, and the card shows the
same figure as the same KPI over a CSV export of that table, uploaded through the page."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import psycopg
import pytest

from tests.conftest import running_app
from tests.test_browser import TIMEOUT_MS, wait_for_app

pytestmark = pytest.mark.browser

TEAMS = ["Alpha", "Beta", "Gamma"]
ROWS = [(f"2024-03-{1 + i % 28:02d}", TEAMS[i % 3], 10 + i % 17) for i in range(555)]


def _build_kpi(page, name: str) -> str:
    """Build a KPI with the editor (its name; the editor proposes the rest) and return the
    figure its card shows."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Dashboard").click()
    page.get_by_text("This dataset has no KPI yet").wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Add a KPI", exact=True).click()
    editor = page.get_by_role("dialog")
    field = editor.get_by_label("Name", exact=True)
    field.fill(name)
    field.press("Enter")
    wait_for_app(page)
    editor.get_by_role("button", name="Add KPI", exact=True).click()
    card = page.locator('[class*="st-key-card_"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=name)
    )
    card.wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page)
    return card.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_a_connected_postgres_table_shows_the_figures_of_its_csv_export(
    postgres_url: str, sample_store: Path, browser, tmp_path: Path
) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute('CREATE TABLE "team orders" ("Day" date, "Team" text, "Amount" integer)')
        with con.cursor() as cur, cur.copy('COPY "team orders" FROM STDIN') as copy:
            for row in ROWS:
                copy.write_row(row)
    export = tmp_path / "team orders.csv"
    with export.open("w", newline="") as handle:
        csv.writer(handle).writerows([("Day", "Team", "Amount"), *ROWS])
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[connections.shop]\nurl = "{postgres_url}"\nttl = 600\n')
    expected = sum(r[2] for r in ROWS)
    shown = f"{expected / 1000:.1f}K" if expected >= 10_000 else f"{expected:,}"

    shutil.copytree(sample_store, tmp_path / "store")
    store = tmp_path / "store" / "kpi_store.duckdb"
    with running_app(store, tmp_path, args=[f"--secrets.files={secrets}"]) as url:
        page = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
        page.goto(f"{url}/data")
        wait_for_app(page)
        page.get_by_text("Connect a table").click()
        page.get_by_role("button", name="Connect").click()
        page.get_by_text(re.compile(r"Live table")).first.wait_for(timeout=TIMEOUT_MS)
        page.get_by_text(f"{len(ROWS):,} rows").first.wait_for(timeout=TIMEOUT_MS)
        live_figure = _build_kpi(page, "Team amount")

        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Data").click()
        wait_for_app(page)
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
            str(export)
        )
        page.get_by_text(f"loaded {len(ROWS)} rows").wait_for(timeout=TIMEOUT_MS)
        csv_figure = _build_kpi(page, "Team amount")
        assert live_figure == csv_figure == shown
        assert page.locator('[data-testid="stException"]').count() == 0
        page.context.close()
