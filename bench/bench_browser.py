"""How fast the app feels in a real browser (Debian's Chromium driven by Playwright).

Measures, each on a ``streamlit run`` server of its own over a store folder of its own:

1. Target move: from the Enter that commits a new target in the selected KPI's exact field
   to the moment the text of that KPI's card changes (a MutationObserver in the page), median
   and 95th percentile over ``--moves`` moves (after two unmeasured ones), on the bundled
   sample (52k rows) and on sample-shaped datasets of 1M and 5M rows with the same KPI file.
2. Upload: from handing a 1M-row CSV to the Data page's uploader to the first drawn card
   (the first "Start with these KPIs" card of the new dataset), against DuckDB's own
   ``CREATE TABLE ... AS SELECT * FROM read_csv(...)`` of the same file (best of 3).
3. First dashboard of a fresh server started as the README says (``streamlit run serve.py``,
   which runs the app once before answering its health check; ``--entry app.py`` for a cold
   start): from opening the address to the first card, to every card, and to the page at
   rest with its charts drawn, for a new visitor (a new browser context: nothing cached) and
   a returning one (a context that opened the app at the same address before, as a team does
   when a hosted app restarts); median of ``--fresh`` servers each.
4. With ``--floor``, 1 and 3 on the least a KPI dashboard can be in Streamlit (``FLOOR_APP``:
   ten metric cards and a target field, no data), and 2 on the least an upload can be
   (``FLOOR_UPLOAD_APP``: DuckDB's ``read_csv`` into a table, the row count as a card): what
   Streamlit and the machine cost alone.

    python bench/bench_browser.py                          # sample, 1M, 5M, upload, fresh
    python bench/bench_browser.py --sizes sample,1000000 --moves 20 --fresh 3
    python bench/bench_browser.py --sizes sample --upload-rows 0 --floor   # against the floor

Prints markdown tables (copied into bench/RESULTS.md) and a JSON line of every figure.
Never a test: figures on a shared machine vary, so they are recorded, not asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kpi_logic import workspace  # noqa: E402
from kpi_logic.store import Store, upload_dir_for  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
APP_DIR = ROOT  # the checkout whose app is served (--app-dir: compare two versions)
ENTRY = "serve.py"  # the file `streamlit run` starts (--entry app.py: a cold start)
SAMPLE_CSV = ROOT / "data" / "sample_sales.csv"
SAMPLE_KPIS = ROOT / "data" / "sample_kpis.yaml"
TIMEOUT_MS = 600_000  # a 5M-row cold start on a busy 2-core machine
CARD = ".st-key-card_0"  # the first KPI's card (the selected KPI: its targets are in the sidebar)

# Installed once per page: stamps the Enter that commits a target, and the first change of
# the card's text after it.
OBSERVER_JS = """() => {
  const b = window.__bench = {armed: false, t0: null, t1: null, before: null};
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && b.armed && b.t0 === null) b.t0 = performance.now();
  }, true);
  new MutationObserver(() => {
    if (b.t0 === null || b.t1 !== null) return;
    const card = document.querySelector('CARD_SELECTOR');
    if (card && card.textContent !== b.before) b.t1 = performance.now();
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}""".replace("CARD_SELECTOR", CARD)

# Installed before the app loads: when each message from the server arrives.
SOCKET_JS = """(() => {
  const Native = window.WebSocket;
  window.__wsIn = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => window.__wsIn.push(performance.now()));
    }
  };
})();"""

# the app root's script state, which Streamlit's own browser tests wait on (its status widget
# only appears after half a second of a run)
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


# The least a KPI dashboard can be in Streamlit: ten cards (a metric with a sparkline and a
# status line) and a target field in the sidebar, no data. The same measurements on it give
# what Streamlit's server and frontend cost by themselves on this machine.
FLOOR_APP = """import streamlit as st

target = st.sidebar.number_input("Exact", value=1_000_000.0, step=1000.0, format="%.2f")
for start in range(0, 10, 4):
    for offset, column in enumerate(st.columns(4)[: 10 - start]):
        with column, st.container(border=True, key=f"card_{start + offset}"):
            st.metric(f"KPI {start + offset}", "$4.4M", delta="+3%", chart_type="line",
                      chart_data=[3, 5, 4, 6, 5 + offset])
            st.markdown(f"{4.4e6 / target:.1%} of target" if start + offset == 0 else "On target")
"""


# The least an upload can be: the file saved, read into a DuckDB table by ``read_csv`` with
# nothing else (no typing, rejects, store or suggestions), and its row count shown as a card.
FLOOR_UPLOAD_APP = """import tempfile

import duckdb
import streamlit as st

chosen = st.file_uploader("CSV", type="csv")
if chosen is not None:
    with tempfile.NamedTemporaryFile(suffix=".csv") as copy:
        copy.write(chosen.getbuffer())
        copy.flush()
        con = duckdb.connect()
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{copy.name}')")
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    with st.container(key="suggestions"):
        st.metric("Rows", f"{rows:,}")
"""


def floor(browser, work: Path, moves: int, runs: int, upload_rows: int) -> dict[str, object]:
    """Target moves and a fresh server's first dashboard on ``FLOOR_APP``, and the upload of
    ``upload_rows`` rows (0: none) on ``FLOOR_UPLOAD_APP``."""
    folder = work / "floor"
    folder.mkdir()
    app, uploader = folder / "floor.py", folder / "floor_upload.py"
    app.write_text(FLOOR_APP)
    uploader.write_text(FLOOR_UPLOAD_APP)
    figures = {
        "moves": moves_on(browser, work, None, moves, app),
        "fresh": fresh(browser, work, runs, app),
    }
    if upload_rows:
        figures["upload"] = upload(browser, work, upload_rows, uploader)
    return figures


# ---------------------------------------------------------------- data and stores


def sample_shaped_csv(path: Path, rows: int) -> Path:
    """A CSV of ``rows`` rows shaped like the sample (same columns and dates, each day's rows
    repeated with Revenue and Cost jittered), so the sample's KPI file applies unchanged."""
    copies = -(-rows // 52_632)
    con = duckdb.connect()
    con.execute(
        f"""COPY (
            SELECT * EXCLUDE (h) FROM (
                SELECT s.* REPLACE (
                    round(s."Revenue" * (0.8 + 0.4 * (hash(r.i, s."Date", s."Team") % 1000)
                          / 1000.0), 2) AS "Revenue",
                    round(s."Cost" * (0.8 + 0.4 * (hash(r.i, s."Team", s."Date") % 1000)
                          / 1000.0), 2) AS "Cost"),
                    hash(r.i, s."Date", s."Region", s."Product Line", s."Channel") AS h
                FROM read_csv('{SAMPLE_CSV}') s, range({copies}) r(i)
                ORDER BY h LIMIT {rows})
            ORDER BY "Date") TO '{path}' (HEADER, DELIMITER ',')"""
    )
    con.close()
    return path


def make_store(folder: Path, rows: int | None) -> Path:
    """A store folder with one dataset (the sample, or ``rows`` sample-shaped rows) and the
    sample's KPI file; returns the store file. Loaded by the app's own ``add_dataset``."""
    store_file = folder / "store" / "kpi_store.duckdb"
    uploads = upload_dir_for(store_file)
    uploads.mkdir(parents=True)
    with Store(store_file, allowed_dirs=[uploads, ROOT / "data"]) as store:
        if rows is None:
            workspace.ensure_sample(store, SAMPLE_CSV, SAMPLE_KPIS, uploads)
        else:
            data = sample_shaped_csv(uploads / f"bench_{rows}.csv", rows)
            cur = store.cursor()
            dataset, _ = workspace.add_dataset(store, cur, data, f"Bench {rows:,} rows", uploads)
            store.save_kpi_set(cur, dataset.id, "Sample KPIs", SAMPLE_KPIS.read_text(), "bench")
    return store_file


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
            return reply.read() == b"ok"
    except OSError:
        return False


@contextlib.contextmanager
def server(
    store_file: Path, log_dir: Path, port: int | None = None, app: Path | None = None
) -> Iterator[tuple[str, float]]:
    """``streamlit run`` of ``app`` (default: ``ENTRY`` of ``APP_DIR``) over ``store_file`` on
    ``port`` (a free one when None): (URL, seconds to health)."""
    port = port or _free_port()
    app = app or APP_DIR / ENTRY
    log = (log_dir / f"streamlit-{port}.log").open("w")
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            app.name,
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=app.parent,
        env={**os.environ, "KPI_STORE": str(store_file)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while not _healthy(url):
            if process.poll() is not None or time.perf_counter() - started > 120:
                raise RuntimeError(f"streamlit did not start; see {log.name}")
            time.sleep(0.05)
        yield url, time.perf_counter() - started
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


# ---------------------------------------------------------------- measurements


def wait_idle(page) -> None:
    page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)


def open_dashboard(page, url: str) -> dict[str, float]:
    """Open the dashboard: ms to the first card, to every card and to the page at rest."""
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=TIMEOUT_MS)
    first = time.perf_counter()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"stMetricValue\"]').length >= 10",
        timeout=TIMEOUT_MS,
    )
    cards = time.perf_counter()
    page.locator(  # a chart drawn (the floor's only charts are the cards' sparklines)
        '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg, '
        '[data-testid="stMetricChart"] svg'
    ).first.wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    rest = time.perf_counter()
    return {
        "first_card_ms": (first - start) * 1000,
        "all_cards_ms": (cards - start) * 1000,
        "at_rest_ms": (rest - start) * 1000,
    }


def target_moves(page, moves: int) -> list[dict[str, float]]:
    """Enter ``moves`` + 2 new targets in the selected KPI's exact field (the first two are
    not kept); for each, ms from the Enter to the first message of the server's run, to the
    card's new text, and to the run's last message."""
    page.evaluate(OBSERVER_JS)
    field = page.locator('[data-testid="stSidebar"] [data-testid="stNumberInput"] input').first
    field.wait_for(timeout=TIMEOUT_MS)
    base = float(field.input_value().replace(",", "") or 1_000_000)
    times = []
    for i in range(moves + 2):
        value = base * (1.05 + 0.04 * (i % 10)) if i % 2 else base * (0.95 - 0.03 * (i % 10))
        page.evaluate(
            "(sel) => Object.assign(window.__bench, {armed: true, t0: null, t1: null,"
            " before: document.querySelector(sel).textContent})",
            CARD,
        )
        field.fill(f"{value:.2f}")
        field.press("Enter")
        page.wait_for_function(
            "() => window.__bench.t1 !== null", timeout=TIMEOUT_MS, polling="raf"
        )
        wait_idle(page)  # the run has finished before the next move
        took = page.evaluate(
            """() => { const b = window.__bench, got = window.__wsIn.filter(t => t > b.t0);
                return {card: b.t1 - b.t0, reply: got.length ? got[0] - b.t0 : NaN,
                        end: got.length ? got[got.length - 1] - b.t0 : NaN}; }"""
        )
        if i >= 2:
            times.append({key: float(value) for key, value in took.items()})
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def duckdb_read_csv(path: Path) -> float:
    """DuckDB's own read of ``path`` into a table, best of 3 (s)."""
    best = float("inf")
    for _ in range(3):
        con = duckdb.connect()
        start = time.perf_counter()
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}')")
        best = min(best, time.perf_counter() - start)
        con.close()
    return best


def upload(browser, work: Path, rows: int, app: Path | None = None) -> dict[str, float]:
    """Seconds from choosing a ``rows``-row CSV in the uploader (of the Data page, or of
    ``app``'s page) to the first drawn card."""
    data = work / f"orders_{rows}.csv"
    if not data.exists():
        sample_shaped_csv(data, rows)
    store_file = make_store(work / f"upload_{app.stem if app else 'app'}", None)
    with server(store_file, work, app=app) as (url, _):
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(url if app else url + "/data")
        page.wait_for_selector('[data-testid="stFileUploader"]', timeout=TIMEOUT_MS)
        wait_idle(page)
        start = time.perf_counter()
        page.locator('[data-testid="stFileUploader"] input[type=file]').first.set_input_files(
            str(data)
        )
        page.wait_for_selector(
            '.st-key-suggestions [data-testid="stMetricValue"]', timeout=TIMEOUT_MS
        )
        seconds = time.perf_counter() - start
        page.close()
    return {
        "rows": rows,
        "load_average": round(os.getloadavg()[0], 1),
        "mb": data.stat().st_size / 1024**2,
        "upload_to_card_s": seconds,
        "duckdb_read_csv_s": duckdb_read_csv(data),
    }


def fresh(browser, work: Path, runs: int, app: Path | None = None) -> dict[str, float]:
    """Median over ``runs`` fresh servers (sample store) of the first dashboard's timings, for
    a new visitor (a new browser context: nothing cached) and for a returning one (a context
    that opened the app before, at the same address, so Streamlit's scripts, served as
    immutable, come from its cache) as when a hosted app restarts and the team comes back."""
    store_file = make_store(work / f"fresh_{app.stem if app else 'app'}", None)
    pristine = store_file.parent.parent / "copy"
    shutil.copytree(store_file.parent, pristine)
    port = _free_port()  # one address, as a hosted app keeps
    returning = browser.new_context(viewport={"width": 1400, "height": 1200})
    figures: dict[str, list[float]] = {}
    for visitor in ["returning"] + ["new", "returning"] * runs:  # the first visit fills a cache
        shutil.rmtree(store_file.parent)
        shutil.copytree(pristine, store_file.parent)
        with server(store_file, work, port, app) as (url, boot):
            context = (
                returning
                if visitor == "returning"
                else browser.new_context(viewport={"width": 1400, "height": 1200})
            )
            page = context.new_page()
            page.add_init_script(SOCKET_JS)
            opened = open_dashboard(page, url)
            messages = page.evaluate("() => window.__wsIn")  # ms since the page was opened
            opened |= {"first_message_ms": messages[0], "last_message_ms": messages[-1]}
            page.close()
            if context is not returning:
                context.close()
            if visitor == "returning" and "new_first_card_ms" not in figures:
                continue  # the visit that fills the cache: not counted
            figures.setdefault("server_start_ms", []).append(boot * 1000)
            for key, value in opened.items():
                figures.setdefault(f"{visitor}_{key}", []).append(value)
    returning.close()
    medians = {key: statistics.median(values) for key, values in figures.items()}
    return {**medians, "runs": runs, "load_average": round(os.getloadavg()[0], 1)}


def moves_on(
    browser, work: Path, rows: int | None, moves: int, app: Path | None = None
) -> dict[str, object]:
    """Target-move latency on a store of the sample (``rows`` None) or ``rows`` rows; ``app``:
    another app to serve (the floor)."""
    label = app.stem if app else "sample" if rows is None else str(rows)
    made = time.perf_counter()
    store_file = make_store(work / f"moves_{label}", rows)
    made = time.perf_counter() - made
    with server(store_file, work, app=app) as (url, _):
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.add_init_script(SOCKET_JS)
        opened = open_dashboard(page, url)
        moved = target_moves(page, moves)
        page.close()
    times = [m["card"] for m in moved]
    if app:
        dataset = "floor (no data)"
    elif rows is None:
        dataset = "sample (52,632 rows)"
    else:
        dataset = f"{rows:,} rows"
    return {
        "dataset": dataset,
        "load_average": round(os.getloadavg()[0], 1),
        "moves": len(times),
        "median_ms": statistics.median(times),
        "p95_ms": p95(times),
        "max_ms": max(times),
        "first_reply_median_ms": statistics.median(m["reply"] for m in moved),
        "run_end_median_ms": statistics.median(m["end"] for m in moved),
        "first_dashboard_ms": opened["at_rest_ms"],
        "store_made_s": made,
        "all_ms": [round(t, 1) for t in times],
    }


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    global APP_DIR, ENTRY  # noqa: PLW0603 (one setting for the whole run)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="sample,1000000,5000000")
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--upload-rows", type=int, default=1_000_000, help="0 to skip")
    parser.add_argument("--fresh", type=int, default=3, help="fresh servers; 0 to skip")
    parser.add_argument(
        "--floor", action="store_true", help="also measure the floor: the least dashboard"
    )
    parser.add_argument("--app-dir", type=Path, default=ROOT, help="the app checkout to serve")
    parser.add_argument("--entry", default=ENTRY, help="serve.py (warm start) or app.py")
    args = parser.parse_args(argv)
    APP_DIR, ENTRY = args.app_dir.resolve(), args.entry
    from playwright.sync_api import sync_playwright

    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="kpi-bench-browser-") as tmp, sync_playwright() as p:
        work = Path(tmp)
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        moves = []
        for size in filter(None, args.sizes.split(",")):
            rows = None if size.strip() == "sample" else int(size)
            moves.append(moves_on(browser, work, rows, args.moves))
            print(json.dumps(moves[-1]), flush=True)
        results["moves"] = moves
        if args.upload_rows:
            results["upload"] = upload(browser, work, args.upload_rows)
            print(json.dumps(results["upload"]), flush=True)
        if args.fresh:
            results["fresh"] = fresh(browser, work, args.fresh)
            print(json.dumps(results["fresh"]), flush=True)
        if args.floor:
            results["floor"] = floor(
                browser, work, args.moves, max(args.fresh, 1), args.upload_rows
            )
            print(json.dumps(results["floor"]), flush=True)
        browser.close()
    print_tables(results)
    print(json.dumps(results))


def print_tables(results: dict) -> None:
    print(
        "\n| dataset | moves | median ms | p95 ms | max ms | server's first reply, median ms "
        "| run's last message, median ms | load average |"
    )
    print("|---|---|---|---|---|---|---|---|")
    floor_fresh = results.get("floor", {}).get("fresh")
    floor_upload = results.get("floor", {}).get("upload")
    floor_moves = [results["floor"]["moves"]] if "floor" in results else []
    for m in results.get("moves", []) + floor_moves:
        print(
            f"| {m['dataset']} | {m['moves']} | {m['median_ms']:,.0f} | {m['p95_ms']:,.0f} "
            f"| {m['max_ms']:,.0f} | {m['first_reply_median_ms']:,.0f} "
            f"| {m['run_end_median_ms']:,.0f} | {m['load_average']} |"
        )
    for label, up in [("", results.get("upload")), (" (floor)", floor_upload)]:
        if not up:
            continue
        ratio = up["upload_to_card_s"] / up["duckdb_read_csv_s"]
        print(
            f"\nUpload{label} of {up['rows']:,} rows ({up['mb']:,.0f} MB CSV) to the first card: "
            f"{up['upload_to_card_s']:.2f} s; DuckDB read_csv {up['duckdb_read_csv_s']:.2f} s "
            f"({ratio:.1f}x)"
        )
    for label, fr in [("", results.get("fresh")), (" (floor)", floor_fresh)]:
        if not fr:
            continue
        print(f"\nFresh server{label}: start to health {fr['server_start_ms']:,.0f} ms")
        for visitor in ["new", "returning"]:
            print(
                f"- {visitor} visitor: first card {fr[f'{visitor}_first_card_ms']:,.0f} ms, "
                f"every card {fr[f'{visitor}_all_cards_ms']:,.0f} ms, at rest with charts "
                f"{fr[f'{visitor}_at_rest_ms']:,.0f} ms; the server's first message "
                f"{fr[f'{visitor}_first_message_ms']:,.0f} ms, its last "
                f"{fr[f'{visitor}_last_message_ms']:,.0f} ms"
            )


if __name__ == "__main__":
    main()
