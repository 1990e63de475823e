"""Shared fixtures: a fresh store per test, a real `streamlit run` server and a real Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the app at an empty store file of this test's own."""
    path = tmp_path / "store" / "kpi_store.duckdb"
    monkeypatch.setenv("KPI_STORE", str(path))
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(
    store: Path,
    log_dir: Path,
    *,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
    entry: str = "app.py",
) -> Iterator[str]:
    """Run the real app with `streamlit run` on a free local port over the store file ``store``;
    yield its URL once `/_stcore/health` answers, stop it afterwards. ``env`` adds environment
    variables, ``args`` extra `streamlit run` options (e.g. ``--secrets.files=...``), ``entry``
    the file run (``serve.py``: the README's warm start)."""
    port = _free_port()
    log = (log_dir / f"streamlit-{port}.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            entry,
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
            *args,
        ],
        cwd=ROOT,
        env={**os.environ, "KPI_STORE": str(store), **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start; see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
            return reply.read() == b"ok"
    except OSError:
        return False


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store folder holding the bundled sample and its KPIs, made once by the engine as the
    app makes it on a first start; browser tests each start from a copy."""
    from kpi_logic import workspace
    from kpi_logic.store import Store, upload_dir_for

    path = tmp_path_factory.mktemp("sample") / "store" / "kpi_store.duckdb"
    uploads = upload_dir_for(path)
    uploads.mkdir(parents=True)
    with Store(path, allowed_dirs=[uploads, ROOT / "data"]) as store:
        workspace.ensure_sample(
            store, ROOT / "data" / "sample_sales.csv", ROOT / "data" / "sample_kpis.yaml", uploads
        )
    return path.parent


@pytest.fixture
def app_url(tmp_path: Path, sample_store: Path) -> Iterator[str]:
    """The real app on a free local port over a store folder of this test's own (a copy of
    the sample store), so browser tests never see each other's work and pass in any order."""
    shutil.copytree(sample_store, tmp_path / "store")
    with running_app(tmp_path / "store" / "kpi_store.duckdb", tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of the ``postgres`` database of a real PostgreSQL server started for this test run
    (Debian's binaries, a temporary cluster on a free port), stopped at the end. Its folder is
    outside pytest's temporary folders, which the ``postgres`` user may not enter."""
    import tempfile

    from tests.postgres_server import postgres_cluster

    with postgres_cluster(Path(tempfile.mkdtemp(prefix="kpi-postgres-"))) as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """URL of a new, empty database of its own on the test run's PostgreSQL server."""
    import uuid

    import psycopg

    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def spark_session() -> Iterator[object]:
    """One local Spark session (``pyspark`` with Debian's OpenJDK) for the whole test run, one
    core and little memory; Spark tests are skipped only when ``java`` is missing."""
    if shutil.which("java") is None:
        pytest.skip("java is missing: install openjdk-17-jre-headless (./test.sh does)")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("kpi-explorer-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (./test.sh does).")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield launched
        launched.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests first: they are the slowest, so in two processes (``./test.sh``) the short
    tests fill in at the end and both processes finish together."""
    items.sort(key=lambda item: "browser" not in getattr(item, "fixturenames", ()))
