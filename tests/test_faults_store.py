"""Store and disk faults, for real: a full disk (a small tmpfs), a damaged store file, what
crashed loads leave behind, and two tabs deleting the same dataset. Each ends in a clear
message, a store every session can use, and nothing lost that was confirmed."""

from __future__ import annotations

import gc
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kpi_logic import workspace
from kpi_logic.errors import DiskFullError, StoreDamagedError, StoreError
from kpi_logic.sql import quote_ident
from kpi_logic.store import Store, upload_dir_for
from kpi_logic.text import markdown_text

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CSV = ROOT / "data" / "sample_sales.csv"
SAMPLE_KPIS = ROOT / "data" / "sample_kpis.yaml"
SAMPLE_ROWS = sum(1 for _ in SAMPLE_CSV.open(encoding="utf-8")) - 1
TIMEOUT = 180
DISK_MB = 48  # the sample's store needs ~13 MB; the rest is room to fill
FULL_DISK_WORDS = "disk where this app keeps its data is full"


def start(params: dict[str, str] | None = None) -> AppTest:
    """A new session (a new browser tab) of the app on the store named by ``KPI_STORE``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    return rerun(at)


def rerun(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def free_bytes(folder: Path) -> int:
    info = os.statvfs(folder)
    return info.f_bavail * info.f_frsize


def fill(folder: Path, leave: int) -> Path:
    """Fill the disk of ``folder`` until ``leave`` bytes are free; return the filler file."""
    filler = folder / "filler.bin"
    with filler.open("ab") as out:
        out.write(b"\0" * max(0, free_bytes(folder) - leave))
    return filler


def wide_csv(rows: int) -> bytes:
    """A CSV of ``rows`` rows of about 80 bytes: id, amount, label."""
    lines = (f"{i},{i * 1.5},label-{i}-{'y' * 60}\n" for i in range(rows))
    return ("Id,Amount,Label\n" + "".join(lines)).encode()


def table_names(cur) -> set[str]:
    return {r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A tmpfs of DISK_MB megabytes mounted for this test (root only), the app's store on it."""
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a tmpfs, and mounting one needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    monkeypatch.setenv("KPI_STORE", str(mount / "store" / "kpi_store.duckdb"))
    try:
        yield mount
    finally:
        from ui import session  # the app's store of this path, cached in this process

        session._open_store.clear()
        gc.collect()  # closes its connection
        subprocess.run(["umount", "-l", str(mount)], check=True)  # lazy: even if still open


def sample_store(path: Path) -> Store:
    store = Store(path)
    workspace.ensure_sample(store, SAMPLE_CSV, SAMPLE_KPIS, upload_dir_for(path))
    return store


# A full disk -----------------------------------------------------------------------------


def test_a_full_disk_refuses_an_upload_and_a_note_and_loses_nothing(disk: Path) -> None:
    store = sample_store(disk / "store" / "kpi_store.duckdb")
    uploads = upload_dir_for(store.path)
    try:
        cur = store.cursor()
        (sample,) = store.list_datasets(cur)
        (kpi_set,) = store.list_kpi_sets(cur, sample.id)
        confirmed = store.add_note(cur, kpi_set.id, "Revenue", "ann", "before the disk filled")
        before = sorted(p.name for p in uploads.iterdir())

        fill(disk, 1 << 20)
        content = wide_csv(40_000)  # ~3 MB: more than the 1 MB left
        with pytest.raises(DiskFullError, match=FULL_DISK_WORDS):
            workspace.save_upload(uploads, "orders.csv", io.BytesIO(content))
        assert sorted(p.name for p in uploads.iterdir()) == before  # no partial file left
        assert free_bytes(disk) >= 1 << 20  # its space was given back

        filler = fill(disk, 0)
        with pytest.raises(DiskFullError, match=FULL_DISK_WORDS) as refused:
            store.add_note(cur, kpi_set.id, "Revenue", "bob", "x" * 5_000)
        assert "someone else" not in str(refused.value).lower()
        with pytest.raises(DiskFullError, match=FULL_DISK_WORDS):
            store.save_view(cur, "West", {"ds": sample.id, "padding": "x" * 5_000})
        with pytest.raises(DiskFullError, match=FULL_DISK_WORDS):
            store.update_kpi_set(cur, kpi_set.id, kpi_set.yaml_text + "# " + "x" * 5_000, "b", "")

        filler.unlink()
        assert store.get_kpi_set(cur, kpi_set.id) == kpi_set
        assert store.list_views(cur) == []
        later = store.add_note(cur, kpi_set.id, "Revenue", "bob", "after space was freed")
        assert [n.id for n in store.notes(cur, kpi_set.id)] == [later, confirmed]
        rows = store.cursor().execute(f"SELECT count(*) FROM {quote_ident(sample.table)}")
        assert rows.fetchone()[0] == SAMPLE_ROWS
        path = workspace.save_upload(uploads, "orders.csv", io.BytesIO(content))
        assert path.read_bytes() == content
    finally:
        store.close()


def test_a_load_that_fills_the_disk_reopens_the_store_for_every_session(disk: Path) -> None:
    """The load's own commit pushes DuckDB's log past its checkpoint size; the checkpoint fails
    on the full disk and DuckDB invalidates the database (every query of every cursor fails
    until it is reopened). The Store reopens it and the old cursors are replaced."""
    store = sample_store(disk / "store" / "kpi_store.duckdb")
    uploads = upload_dir_for(store.path)
    try:
        cur, other_session = store.cursor(), store.cursor()
        (sample,) = store.list_datasets(cur)
        (kpi_set,) = store.list_kpi_sets(cur, sample.id)
        confirmed = store.add_note(cur, kpi_set.id, "Revenue", "ann", "confirmed")
        path = workspace.save_upload(uploads, "orders.csv", io.BytesIO(wide_csv(100_000)))
        filler = fill(disk, 12 << 20)  # room for the load, not for the checkpoint after it

        with pytest.raises(DiskFullError, match=FULL_DISK_WORDS):
            workspace.add_dataset(store, cur, path, "Orders", uploads)
        assert store.generation == 1  # the database was invalidated and reopened
        with pytest.raises(Exception, match="closed"):
            other_session.execute("SELECT 1")  # a cursor of the old connection...
        with pytest.raises(StoreError, match="reopened meanwhile"):  # (a clear message)
            store.add_note(other_session, kpi_set.id, "Revenue", "bob", "on the old cursor")
        fresh = store.cursor()  # ...is replaced by a new one, which works
        assert [d.id for d in store.list_datasets(fresh)] == [sample.id]
        assert [n.id for n in store.notes(fresh, kpi_set.id)] == [confirmed]

        filler.unlink()
        dataset, result = workspace.add_dataset(store, fresh, path, "Orders", uploads)
        assert result.rows == 100_000
        total = fresh.execute(f"SELECT sum(Amount) FROM {quote_ident(dataset.table)}")
        assert total.fetchone()[0] == pytest.approx(sum(i * 1.5 for i in range(100_000)))
        rows = fresh.execute(f"SELECT count(*) FROM {quote_ident(sample.table)}").fetchone()
        assert rows[0] == SAMPLE_ROWS
    finally:
        store.close()


def test_a_retype_on_a_full_disk_changes_nothing_and_can_be_retried(disk: Path) -> None:
    store = sample_store(disk / "store" / "kpi_store.duckdb")
    uploads = upload_dir_for(store.path)
    try:
        cur = store.cursor()
        content = b"Code,Amount\n" + b"".join(b"%d,%d\n" % (i, i * 3) for i in range(2_000))
        path = workspace.save_upload(uploads, "codes.csv", io.BytesIO(content))
        dataset, _ = workspace.add_dataset(store, cur, path, "Codes", uploads)
        sidecar = (uploads / f"{dataset.table}.json").read_text()
        filler = uploads.parent.parent / "filler.bin"

        def fill_when_loaded(fraction: float, message: str) -> None:
            if fraction >= 0.85 and not filler.exists():  # the new table is written
                fill(disk, 0)

        with pytest.raises(DiskFullError, match=FULL_DISK_WORDS):
            workspace.retype(
                store, cur, dataset, uploads, {"Code": "text"}, progress=fill_when_loaded
            )
        filler.unlink()
        cur = store.cursor()
        assert store.get_dataset(cur, dataset.id) == dataset  # same rows and content hash
        kind = cur.execute(f"SELECT typeof(Code) FROM {quote_ident(dataset.table)} LIMIT 1")
        assert kind.fetchone()[0] == "BIGINT"
        assert (uploads / f"{dataset.table}.json").read_text() == sidecar
        assert workspace.type_overrides(uploads, dataset) == {}

        workspace.retype(store, cur, dataset, uploads, {"Code": "text"})  # the retry works
        after = store.get_dataset(cur, dataset.id)
        assert after.content_hash != dataset.content_hash
        assert workspace.type_overrides(uploads, after) == {"Code": "text"}
        kind = cur.execute(f"SELECT typeof(Code) FROM {quote_ident(dataset.table)} LIMIT 1")
        assert kind.fetchone()[0] == "VARCHAR"
        workspace.sweep_orphans(store, uploads, grace_seconds=0)
        assert {t for t in table_names(cur) if t.startswith("ds_")} == {
            t + suffix
            for t in (dataset.table, store.list_datasets(cur)[-1].table)
            for suffix in ("", "_rejects")
        }
    finally:
        store.close()


def test_the_app_on_a_full_disk_says_so_and_every_session_goes_on(disk: Path) -> None:
    tab = start()
    tab.switch_page("pages/data.py")
    rerun(tab)
    uploads = upload_dir_for(disk / "store" / "kpi_store.duckdb")
    before = sorted(p.name for p in uploads.iterdir())

    filler = fill(disk, 2 << 20)
    tab.get("file_uploader")[0].set_value(("orders.csv", wide_csv(60_000), "text/csv"))
    rerun(tab)  # ~5 MB upload, 2 MB left: the copy itself fails
    assert any(
        e.body.startswith("orders.csv was not loaded") and FULL_DISK_WORDS in e.body
        for e in tab.error
    )
    assert sorted(p.name for p in uploads.iterdir()) == before
    filler.unlink()

    content = wide_csv(100_000)
    filler = fill(disk, len(content) + (12 << 20))  # the copy fits, the checkpoint does not
    tab.get("file_uploader")[0].set_value(("big.csv", content, "text/csv"))
    rerun(tab)
    assert any(
        e.body.startswith("big.csv was not loaded") and FULL_DISK_WORDS in e.body for e in tab.error
    )
    from ui import session

    assert session.store().generation == 1  # reopened after DuckDB invalidated it
    filler.unlink()

    rerun(tab)  # the same tab, with its old cursor: a new one, no traceback
    assert tab.dataframe[0].value.shape[0] > 0
    other = start()  # a new session
    assert [m.label for m in other.metric]  # the sample's cards
    other.switch_page("pages/review.py")
    rerun(other)
    other.text_area[0].input("Written after the disk was freed.")
    [b for b in other.button if b.label == "Add note"][0].click()
    rerun(other)
    assert not other.error
    store = session.store()
    (sample,) = store.list_datasets(store.cursor())
    (kpi_set,) = store.list_kpi_sets(store.cursor(), sample.id)
    notes = store.notes(store.cursor(), kpi_set.id)
    assert [n.text for n in notes] == ["Written after the disk was freed."]
    assert sample.rows == SAMPLE_ROWS


# A damaged store file --------------------------------------------------------------------


def test_a_damaged_store_gets_one_message_and_a_new_store(store_path: Path) -> None:
    sample_store(store_path).close()
    garbage = os.urandom(64 * 1024)
    with store_path.open("r+b") as handle:
        handle.write(garbage)  # the header and the first blocks
    damaged = store_path.read_bytes()
    first, second = start(), start()  # two tabs see the damaged store

    for tab in (first, second):
        shown = markdown_text(f"The saved data in {store_path} is damaged")  # as the page writes
        assert any(shown in e.body for e in tab.error), [e.body for e in tab.error]
        assert not tab.metric
    first.button(key="new_store").click()
    rerun(first)
    (kept,) = store_path.parent.glob("kpi_store.damaged-*.duckdb")
    assert any(f"kept as {markdown_text(str(kept))}" in s.body for s in first.success)
    assert kept.read_bytes() == damaged
    assert [m.label for m in first.metric]  # a new store with the sample

    second.button(key="new_store").click()  # the other tab's stale button moves nothing
    rerun(second)
    assert list(store_path.parent.glob("kpi_store.damaged-*")) == [kept]
    assert [m.label for m in second.metric]
    with pytest.raises(StoreError, match="cannot be opened") as refused:  # it is in use
        Store(store_path)
    assert not isinstance(refused.value, StoreDamagedError)


# What crashed loads leave behind ---------------------------------------------------------

CRASHING_LOAD = """
import io, os, sys, time
from pathlib import Path
from kpi_logic import workspace
from kpi_logic.store import Store, upload_dir_for

store = Store(sys.argv[1])
uploads = upload_dir_for(store.path)
rows = "".join(f"2024-01-{1 + i % 28:02d},{i}\\n" for i in range(50_000))
path = workspace.save_upload(uploads, "big.csv", io.BytesIO(f"Day,N\\n{rows}".encode()))

def wait_to_be_killed(fraction, message):
    if fraction >= 0.85:  # the table is written
        print(path, flush=True)
        time.sleep(600)

workspace.add_dataset(store, store.cursor(), path, "Big", uploads, progress=wait_to_be_killed)
"""


def test_orphans_of_crashed_loads_are_swept_when_the_app_opens_the_store(
    store_path: Path,
) -> None:
    uploads = upload_dir_for(store_path)
    with sample_store(store_path) as store:  # a real dataset with its upload and rejects
        cur = store.cursor()
        kept_file = workspace.save_upload(uploads, "kept.csv", io.BytesIO(b"A,B\n1,x\n2,y\n"))
        kept, _ = workspace.add_dataset(store, cur, kept_file, "Kept", uploads)
        tables_before = table_names(cur)
    crashed = subprocess.Popen(
        [sys.executable, "-c", CRASHING_LOAD, str(store_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        crashed_file = Path(crashed.stdout.readline().strip())
        crashed.send_signal(signal.SIGKILL)
    finally:
        crashed.kill()
        crashed.wait()
    assert crashed_file.is_file()
    stray_json = uploads / f"ds_{'0' * 32}.json"  # the record of a table that is gone
    stray_json.write_text('{"path": "nowhere"}')
    young = uploads / ("Y" * 22)  # an upload in progress in another session
    young.mkdir()
    (young / "now.csv").write_text("a\n1\n")
    foreign = uploads / "notes-by-hand"  # not made by the app
    foreign.mkdir()
    an_hour_ago = time.time() - 3600
    for entry in (crashed_file, crashed_file.parent, stray_json, foreign):
        os.utime(entry, (an_hour_ago, an_hour_ago))

    with Store(store_path) as store:  # the crash left tables without a dataset
        left = table_names(store.cursor()) - tables_before
    assert left  # (the load's table or ingest's work table)

    tab = start()
    from ui import session

    store = session.store()
    cur = store.cursor()
    assert table_names(cur) == tables_before
    assert not crashed_file.parent.exists()
    assert not stray_json.exists()
    assert young.is_dir()
    assert foreign.is_dir()
    assert kept_file.read_bytes() == b"A,B\n1,x\n2,y\n"
    assert (uploads / f"{kept.table}.json").is_file()
    assert SAMPLE_CSV.is_file()
    datasets = store.list_datasets(cur)
    assert [d.name for d in datasets] == ["Kept", "Sample sales (bundled)"]
    assert datasets[0] == kept
    assert not tab.error


# Two tabs delete the same dataset ---------------------------------------------------------


def test_a_stale_delete_button_never_deletes_another_dataset(store_path: Path) -> None:
    first = start()
    first.switch_page("pages/data.py")
    rerun(first)
    first.get("file_uploader")[0].set_value(("orders.csv", b"Region,Amount\nEast,3\n", "text/csv"))
    rerun(first)
    orders = first.selectbox(key="data_pick").value
    first.session_state["open_delete_dataset"] = True
    rerun(first)
    first.text_input(key="delete_confirm").input("orders.csv")
    rerun(first)
    from ui import session

    store = session.store()
    cur = store.cursor()
    sample = next(d for d in store.list_datasets(cur) if d.id != orders)
    (kpi_set,) = store.list_kpi_sets(cur, sample.id)
    note = store.add_note(cur, kpi_set.id, "Revenue", "ann", "keep me")

    second = start({"ds": orders})
    second.switch_page("pages/data.py")
    second.session_state["open_delete_dataset"] = True
    rerun(second)
    assert second.selectbox(key="data_pick").value == orders
    second.text_input(key="delete_confirm").input("orders.csv")
    rerun(second)
    second.button(key="delete_dataset").click()
    rerun(second)
    assert [d.id for d in store.list_datasets(cur)] == [sample.id]

    first.button(key="delete_dataset").click()  # drawn for "orders", now gone
    rerun(first)
    assert any(e.body == "This dataset was already deleted." for e in first.error)
    assert [d.id for d in store.list_datasets(cur)] == [sample.id]
    assert [n.id for n in store.notes(cur, kpi_set.id)] == [note]
    assert store.get_kpi_set(cur, kpi_set.id).yaml_text == SAMPLE_KPIS.read_text("utf-8")
    rows = cur.execute(f"SELECT count(*) FROM {quote_ident(sample.table)}").fetchone()[0]
    assert rows == SAMPLE_ROWS


def test_a_stale_change_type_button_never_changes_another_dataset(store_path: Path) -> None:
    first = start()
    first.switch_page("pages/data.py")
    rerun(first)
    first.get("file_uploader")[0].set_value(("orders.csv", b"Region,Amount\nEast,3\n", "text/csv"))
    rerun(first)
    orders = first.selectbox(key="data_pick").value
    first.selectbox(key="retype_column").select("Amount")
    first.selectbox(key="retype_type").select("text")
    rerun(first)
    assert not first.button(key="retype").disabled
    from ui import session

    store = session.store()
    cur = store.cursor()
    sample = next(d for d in store.list_datasets(cur) if d.id != orders)

    second = start({"ds": orders})
    second.switch_page("pages/data.py")
    second.session_state["open_delete_dataset"] = True
    rerun(second)
    second.text_input(key="delete_confirm").input("orders.csv")
    rerun(second)
    second.button(key="delete_dataset").click()
    rerun(second)

    first.button(key="retype").click()  # drawn for "orders", now gone
    rerun(first)
    assert [e.body for e in first.error] == ["This dataset was already deleted."]
    assert store.list_datasets(cur) == [sample]  # same row count and content hash
    assert workspace.type_overrides(upload_dir_for(store_path), sample) == {}


def test_one_uploads_folder_for_the_app_and_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``KPI_STORE`` outside ``KPI_DATA_DIR``, the app writes uploads where the store's
    connection may read them: beside the store file."""
    from ui import session

    monkeypatch.setenv("KPI_DATA_DIR", str(tmp_path / "data_dir"))
    monkeypatch.setenv("KPI_STORE", str(tmp_path / "elsewhere" / "kpis.duckdb"))
    assert session.upload_dir() == tmp_path / "elsewhere" / "uploads"
    path = workspace.save_upload(session.upload_dir(), "a.csv", io.BytesIO(b"A\n1\n2\n"))
    with Store() as store:  # the default store and its default readable folders
        dataset, _ = workspace.add_dataset(store, store.cursor(), path, "A", session.upload_dir())
        assert dataset.rows == 2
