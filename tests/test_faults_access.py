"""The password gate under attack (growing waits per session and per client), deep links
through the password screen in a real browser, and what Streamlit is told to show of errors."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import running_app
from tests.test_browser import wait_for_app
from ui import access

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
TIMEOUT_MS = 120_000  # a cold server on a busy 2-core machine


class FakeClock:
    """The gate's clock, moved by the test instead of waited for."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    fake = FakeClock()
    monkeypatch.setattr(access, "clock", fake)
    access._clients.clear()  # the process-wide record of clients starts empty
    yield fake
    access._clients.clear()


def gate(store_path: Path) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.secrets["app_password"] = PASSWORD
    at.run()
    assert not at.exception
    assert at.text_input(key="app_password_input")
    return at


def attempt(at: AppTest, typed: str) -> str:
    """Submit ``typed``; the gate's message ("" when the gate opened)."""
    at.text_input(key="app_password_input").input(typed)
    at.button[0].click()  # the form's Enter button
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return " ".join(e.value for e in at.error)


def _has_input(at: AppTest) -> bool:
    return any(t.key == "app_password_input" for t in at.text_input)


def test_wrong_passwords_wait_longer_and_tries_in_the_wait_are_refused(
    store_path: Path, clock: FakeClock
) -> None:
    at = gate(store_path)
    for _ in range(access.FREE_TRIES):
        assert attempt(at, "guess") == "That password is not right."
    # from here each wrong try doubles the wait: 1, 2, 4 s (FREE_TRIES = 3)
    for wait in (1, 2, 4):
        assert (
            attempt(at, "guess")
            == f"That password is not right. Wait {wait} s before the next try."
        )
        refused = attempt(at, PASSWORD)  # even the right one is not checked during the wait
        assert refused == f"Too many wrong passwords. Wait {wait} s, then try again."
        assert _has_input(at)
        clock.now += wait - 0.5
        assert attempt(at, PASSWORD) == "Too many wrong passwords. Wait 1 s, then try again."
        clock.now += 0.5
    assert attempt(at, PASSWORD) == ""
    assert not _has_input(at)
    assert at.metric  # the dashboard's cards
    assert access._clients == {}  # a right password clears the client's record


def test_a_new_session_from_the_same_client_waits_too(store_path: Path, clock: FakeClock) -> None:
    first = gate(store_path)
    for _ in range(access.FREE_TRIES + 2):
        clock.now += 100  # past any wait: each try counts
        assert attempt(first, "guess").startswith("That password is not right.")
    second = gate(store_path)  # a new tab: its own session, the same address
    assert attempt(second, PASSWORD) == "Too many wrong passwords. Wait 2 s, then try again."
    clock.now += 2
    assert attempt(second, "guess") == "That password is not right. Wait 4 s before the next try."
    clock.now += access.FORGET_AFTER + 5  # a client quiet for an hour starts afresh
    third = gate(store_path)
    assert attempt(third, "guess") == "That password is not right."


def test_the_record_of_clients_is_bounded_and_forgets_old_failures(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    monkeypatch.setattr(access, "MAX_CLIENTS", 3)
    for client in ("a", "b", "c", "d"):
        access._client_tries(client).fail(clock())
    access._client_tries("b")  # seen again: kept before c and d
    access._client_tries("e")
    assert list(access._clients) == ["d", "b", "e"]
    tries = access._Tries()
    for _ in range(access.FREE_TRIES + 3):
        tries.fail(clock())
    assert tries.locked_until - clock() == access.delay(access.FREE_TRIES + 3) == 4.0
    clock.now += access.FORGET_AFTER + 1
    tries.fail(clock())
    assert (tries.failures, tries.locked_until) == (1, clock())
    assert access.delay(10_000) == access.MAX_DELAY


def test_streamlit_reads_show_error_details_none() -> None:
    """The repo's .streamlit/config.toml hides exception text, types and tracebacks."""
    shown = subprocess.run(
        [sys.executable, "-m", "streamlit", "config", "show"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert re.search(r'^showErrorDetails = "none"$', shown, re.MULTILINE)
    assert ".streamlit/secrets.toml" in (ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.browser
def test_a_deep_link_survives_the_password_screen(browser, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'app_password = "{PASSWORD}"\n')
    store = tmp_path / "store" / "kpi_store.duckdb"
    args = ["--secrets.files", str(secrets)]
    with running_app(store, tmp_path, args=args) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1200})
        page = context.new_page()
        # Review selects the first KPI (Revenue) unless the link names another one
        page.goto(f"{url}/review?kpi={quote('Profit Margin')}")
        field = page.get_by_label("App password")
        field.wait_for(timeout=TIMEOUT_MS)
        field.fill("wrong")
        field.press("Enter")
        page.get_by_text("That password is not right.").wait_for(timeout=TIMEOUT_MS)
        field.fill(PASSWORD)
        field.press("Enter")
        page.get_by_role("heading", name="Review").wait_for(timeout=TIMEOUT_MS)
        page.get_by_text("No notes on Profit Margin yet.").wait_for(timeout=TIMEOUT_MS)
        address = urlsplit(page.url)
        assert address.path == "/review"
        assert parse_qs(address.query)["kpi"] == ["Profit Margin"]
        # the CSV export is made on click (deferred) and still downloads
        wait_for_app(page)
        with page.expect_download(timeout=TIMEOUT_MS) as download:
            page.get_by_role("button", name="Results as CSV").click()
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8-sig"))))
        assert "Profit Margin" in {row["KPI"] for row in rows}
        # Streamlit serves it at /media/ without the password (README says so) until the
        # next run of the app drops it
        name = page.get_by_label("Your name (for notes and history)")
        name.fill("Ann")
        name.press("Enter")
        deadline = time.monotonic() + 60
        while _status(download.value.url) != 404:
            assert time.monotonic() < deadline, "the export is still served"
            wait_for_app(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        context.close()


def _status(url: str) -> int:
    """The HTTP status of a cookie-less GET of ``url``."""
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status
    except urllib.error.HTTPError as err:
        return err.code
