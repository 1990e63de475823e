"""The persistent store: round trips, history, limits, ids, concurrency and crash safety."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from kpi_logic.errors import KPIExplorerError, StoreError
from kpi_logic.store import (
    ID_RE,
    MAX_NAME_CHARS,
    MAX_NOTE_CHARS,
    SCHEMA_VERSION,
    Store,
    new_id,
    new_table_name,
    store_path_from_env,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["duckdb", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A new store of each kind: the embedded DuckDB file, and a PostgreSQL team store (on
    the test run's real server) with its own DuckDB file to compute."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    path = tmp_path / "kpi_store.duckdb"
    with Store(path, url=url, allowed_dirs=[tmp_path / "uploads"]) as opened:
        yield opened


@pytest.fixture
def duck_store(tmp_path: Path) -> Iterator[Store]:
    """The embedded store alone, for what only a DuckDB store file does."""
    with Store(tmp_path / "kpi_store.duckdb", allowed_dirs=[tmp_path / "uploads"]) as opened:
        yield opened


def records(store: Store, cur: duckdb.DuckDBPyConnection):
    """Where ``store`` keeps its records (the DuckDB cursor, or PostgreSQL), to look inside."""
    return store._db(cur)


def make_dataset(store: Store, cur: duckdb.DuckDBPyConnection, content_hash: str = "h1") -> str:
    """Create a small table the way ingestion would, and register it."""
    table = new_table_name()
    cur.execute(f"CREATE TABLE {table} AS SELECT * FROM range(3) t(x)")
    return store.register_dataset(cur, "Orders", "orders.csv", table, 3, content_hash)


@pytest.fixture
def kpi_set_id(store: Store) -> str:
    cur = store.cursor()
    return store.save_kpi_set(cur, make_dataset(store, cur), "Sales KPIs", "kpis: []\n", "ann")


def test_store_path_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KPI_STORE", raising=False)
    monkeypatch.delenv("KPI_DATA_DIR", raising=False)
    assert store_path_from_env() == Path("store/kpi_store.duckdb")
    monkeypatch.setenv("KPI_DATA_DIR", str(tmp_path))
    assert store_path_from_env() == tmp_path / "kpi_store.duckdb"
    monkeypatch.setenv("KPI_STORE", str(tmp_path / "other.duckdb"))
    assert store_path_from_env() == tmp_path / "other.duckdb"


def test_schema_is_created_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "s.duckdb"
    with Store(path) as store:
        view_id = store.save_view(store.cursor(), "Kept", {"ds": None})
    with Store(path) as store:
        cur = store.cursor()
        assert cur.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert store.get_view(cur, view_id).name == "Kept"
        cur.execute("UPDATE schema_version SET version = ?", [SCHEMA_VERSION + 1])
    with pytest.raises(StoreError, match="newer version"):
        Store(path)
    duckdb.connect(str(path)).close()  # the refused store let go of the file


def test_store_refuses_files_outside_allowed_dirs(duck_store: Store, tmp_path: Path) -> None:
    store = duck_store
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "ok.csv").write_text("a\n1\n")
    (tmp_path / "secret.csv").write_text("a\n2\n")
    cur = store.cursor()
    ok = cur.execute("SELECT a FROM read_csv(?)", [str(tmp_path / "uploads" / "ok.csv")])
    assert ok.fetchall() == [(1,)]
    with pytest.raises(duckdb.PermissionException):
        cur.execute("SELECT a FROM read_csv(?)", [str(tmp_path / "secret.csv")])


def test_store_in_use_by_another_process(duck_store: Store) -> None:
    store = duck_store
    code = (
        "import sys\nfrom kpi_logic.store import Store\n"
        "try:\n    Store(sys.argv[1])\nexcept Exception as err:\n    print(type(err).__name__, err)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(store.path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert out.startswith("StoreError")
    assert "in use by another program" in out


def test_dataset_round_trip_and_delete(store: Store) -> None:
    cur = store.cursor()
    first = make_dataset(store, cur, "hash-a")
    second = make_dataset(store, cur, "hash-b")
    dataset = store.get_dataset(cur, first)
    assert (dataset.name, dataset.source_name, dataset.rows, dataset.content_hash) == (
        "Orders",
        "orders.csv",
        3,
        "hash-a",
    )
    assert [d.id for d in store.list_datasets(cur)] == [second, first]
    assert store.find_dataset_by_hash(cur, "hash-b") == store.get_dataset(cur, second)
    assert store.find_dataset_by_hash(cur, "nope") is None

    kpi_set_id = store.save_kpi_set(cur, first, "KPIs", "kpis: []", "ann")
    store.update_kpi_set(cur, kpi_set_id, "kpis: [x]", "bob", "edit")
    store.add_note(cur, kpi_set_id, "Sales", "ann", "why")
    store.delete_dataset(cur, first)

    with pytest.raises(StoreError, match="This dataset no longer exists"):
        store.get_dataset(cur, first)
    tables = cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    assert (dataset.table,) not in tables
    for table in ("kpi_sets", "history", "notes"):
        assert records(store, cur).execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    for table in ("dataset_versions", "dataset_history"):
        query = f"SELECT count(*) FROM {table} WHERE dataset_id = ?"
        assert records(store, cur).execute(query, [first]).fetchone() == (0,)
    assert [d.id for d in store.list_datasets(cur)] == [second]


def test_register_dataset_only_accepts_store_made_tables(store: Store) -> None:
    cur = store.cursor()
    with pytest.raises(StoreError, match="new_table_name"):
        store.register_dataset(cur, "x", "x.csv", "views", 1, "h")
    with pytest.raises(StoreError, match="upload the file again"):
        store.register_dataset(cur, "x", "x.csv", new_table_name(), 1, "h")
    assert store.list_datasets(cur) == []


def test_kpi_set_round_trip_and_history(store: Store) -> None:
    cur = store.cursor()
    dataset_id = make_dataset(store, cur)
    kpi_set_id = store.save_kpi_set(cur, dataset_id, "Sales KPIs", "v0", "ann")
    saved = store.get_kpi_set(cur, kpi_set_id)
    assert (saved.dataset_id, saved.name, saved.yaml_text, saved.author, saved.version) == (
        dataset_id,
        "Sales KPIs",
        "v0",
        "ann",
        0,
    )
    assert store.history(cur, kpi_set_id) == []

    assert store.update_kpi_set(cur, kpi_set_id, "v1", "bob", "raise target") == 1
    assert store.update_kpi_set(cur, kpi_set_id, "v2", "cyd", "add margin", expected_version=1) == 2

    current = store.get_kpi_set(cur, kpi_set_id)
    assert (current.yaml_text, current.author, current.version) == ("v2", "cyd", 2)
    assert current.updated_at >= current.created_at
    entries = store.history(cur, kpi_set_id)
    assert [(e.version, e.author, e.summary, e.before_yaml, e.after_yaml) for e in entries] == [
        (2, "cyd", "add margin", "v1", "v2"),
        (1, "bob", "raise target", "v0", "v1"),
    ]
    assert entries[0].changed_at >= entries[1].changed_at
    other = store.save_kpi_set(cur, dataset_id, "Ops", "ops", "ann")
    assert [k.id for k in store.list_kpi_sets(cur, dataset_id)] == [other, kpi_set_id]


def test_lists_come_from_memory_until_the_next_write(duck_store: Store) -> None:
    """A dashboard rerun lists datasets and KPI sets without a query; any write through the
    store makes the next list fresh, in every session."""
    store = duck_store
    cur = store.cursor()
    store.save_kpi_set(cur, make_dataset(store, cur), "Sales KPIs", "kpis: []\n", "ann")
    cur, other = store.cursor(), store.cursor()
    (dataset,) = store.list_datasets(cur)
    (kpi_set,) = store.list_kpi_sets(cur, dataset.id)
    # a row put in behind the store's back is not seen: the lists were not queried again
    sneaked, table = new_id(), new_table_name()
    cur.execute(
        "INSERT INTO datasets (id, name, source_name, table_name, rows, content_hash, "
        "created_at) VALUES (?, 'Sneaked', 's.csv', ?, 1, 'h9', now()::TIMESTAMP)",
        [sneaked, table],
    )
    cur.execute(
        "INSERT INTO dataset_versions VALUES (?, 1, ?, 's.csv', 1, 'h9', '', '', now()::TIMESTAMP)",
        [sneaked, table],
    )
    assert [d.name for d in store.list_datasets(other)] == ["Orders"]
    # any write through the store (here an unrelated one) makes every list fresh
    store.save_view(cur, "A view", {"ds": dataset.id})
    assert [d.name for d in store.list_datasets(other)] == ["Sneaked", "Orders"]
    version = store.update_kpi_set(cur, kpi_set.id, "kpis: []\n# v1\n", "bo", "edit")
    (listed,) = store.list_kpi_sets(other, dataset.id)
    assert listed.version == version == kpi_set.version + 1
    second = make_dataset(store, cur, "h2")
    assert [d.id for d in store.list_datasets(other)][0] == second


def test_update_from_a_stale_version_is_refused(store: Store, kpi_set_id: str) -> None:
    cur = store.cursor()
    store.update_kpi_set(cur, kpi_set_id, "theirs", "bob", "first")
    with pytest.raises(StoreError, match="bob changed this KPI set since you opened it"):
        store.update_kpi_set(cur, kpi_set_id, "mine", "ann", "second", expected_version=0)
    assert store.get_kpi_set(cur, kpi_set_id).yaml_text == "theirs"
    assert len(store.history(cur, kpi_set_id)) == 1


def test_view_round_trip(store: Store) -> None:
    cur = store.cursor()
    state = {"ds": new_id(), "kpi": "Ventes été", "t": {"Sales; net": 1.5}, "cat": ["West"]}
    view_id = store.save_view(cur, "West — 2017", state)
    view = store.get_view(cur, view_id)
    assert (view.id, view.name, view.state) == (view_id, "West — 2017", state)
    other = store.save_view(cur, "Other", {})
    assert [v.id for v in store.list_views(cur)] == [other, view_id]

    store.rename_view(cur, view_id, "Renamed")
    assert store.get_view(cur, view_id).name == "Renamed"
    assert store.get_view(cur, view_id).state == state

    store.delete_view(cur, view_id)
    with pytest.raises(StoreError, match="This saved view no longer exists"):
        store.get_view(cur, view_id)
    assert [v.id for v in store.list_views(cur)] == [other]


@pytest.mark.parametrize(
    "state",
    [
        {"x": float("nan")},
        {"x": object()},
        {"x": b"bytes"},
        ["not", "a", "dict"],
        {"x": "y" * 10**6},
    ],
)
def test_view_state_must_be_a_json_object(store: Store, state: object) -> None:
    with pytest.raises(StoreError):
        store.save_view(store.cursor(), "Bad", state)  # type: ignore[arg-type]
    assert store.list_views(store.cursor()) == []


def test_notes_round_trip(store: Store, kpi_set_id: str) -> None:
    cur = store.cursor()
    assert store.last_note(cur, kpi_set_id) is None
    first = store.add_note(cur, kpi_set_id, "Sales", "ann", "Missed: storm in March", "off target")
    second = store.add_note(cur, kpi_set_id, "Margin", "bob", "Fine")
    third = store.add_note(cur, kpi_set_id, "Sales", "cyd", "Recovered")
    assert [n.id for n in store.notes(cur, kpi_set_id)] == [third, second, first]
    sales = store.notes(cur, kpi_set_id, "Sales")
    assert [(n.author, n.text, n.status) for n in sales] == [
        ("cyd", "Recovered", None),
        ("ann", "Missed: storm in March", "off target"),
    ]
    assert sales[1].kpi_name == "Sales"
    assert sales[1].kpi_set_id == kpi_set_id
    assert store.last_note(cur, kpi_set_id, "Margin").id == second
    assert store.last_note(cur, kpi_set_id, "Unknown KPI") is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s, c, k: s.save_view(c, "x" * (MAX_NAME_CHARS + 1), {}), "view name is too long"),
        (lambda s, c, k: s.save_view(c, "   ", {}), "view name cannot be empty"),
        (lambda s, c, k: s.save_view(c, None, {}), "view name must be text"),
        (lambda s, c, k: s.add_note(c, k, "Sales", "a", "n" * (MAX_NOTE_CHARS + 1)), "too long"),
        (lambda s, c, k: s.add_note(c, k, "K" * (MAX_NAME_CHARS + 1), "a", "n"), "KPI name"),
        (lambda s, c, k: s.add_note(c, k, "Sales", "a", ""), "note cannot be empty"),
        (lambda s, c, k: s.rename_view(c, new_id(), "x" * 201), "view name is too long"),
        (lambda s, c, k: s.update_kpi_set(c, k, "y", "a" * 201, "s"), "author is too long"),
    ],
)
def test_input_limits(store: Store, kpi_set_id: str, call, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        call(store, store.cursor(), kpi_set_id)


def test_note_at_the_limit_is_accepted(store: Store, kpi_set_id: str) -> None:
    cur = store.cursor()
    store.add_note(cur, kpi_set_id, "K" * MAX_NAME_CHARS, "a", "n" * MAX_NOTE_CHARS)
    assert len(store.last_note(cur, kpi_set_id).text) == MAX_NOTE_CHARS


BAD_IDS = ["../../etc/passwd", "", "x' OR '1'='1' --", "A" * 21, "A" * 23, "A" * 21 + "\n", 123]


@pytest.mark.parametrize("bad_id", [*BAD_IDS, pytest.param(new_id(), id="unknown-id")])
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s, c, i: s.get_view(c, i), "saved view"),
        (lambda s, c, i: s.rename_view(c, i, "x"), "saved view"),
        (lambda s, c, i: s.delete_view(c, i), "saved view"),
        (lambda s, c, i: s.get_dataset(c, i), "dataset"),
        (lambda s, c, i: s.delete_dataset(c, i), "dataset"),
        (lambda s, c, i: s.save_kpi_set(c, i, "k", "y", "a"), "dataset"),
        (lambda s, c, i: s.get_kpi_set(c, i), "KPI set"),
        (lambda s, c, i: s.update_kpi_set(c, i, "y", "a", "s"), "KPI set"),
        (lambda s, c, i: s.add_note(c, i, "Sales", "a", "t"), "KPI set"),
    ],
)
def test_unknown_or_malformed_ids_raise_a_clear_store_error(
    store: Store, bad_id: object, call, message: str
) -> None:
    cur = store.cursor()
    with pytest.raises(StoreError) as caught:
        call(store, cur, bad_id)
    text = str(caught.value)
    assert message in text
    assert any(words in text for words in ("no longer exists", "is not valid", "already deleted"))
    assert isinstance(caught.value, KPIExplorerError)


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_listing_by_malformed_id_raises(store: Store, bad_id: object) -> None:
    cur = store.cursor()
    for call in (store.history, store.notes, store.last_note, store.list_kpi_sets):
        with pytest.raises(StoreError, match="is not valid"):
            call(cur, bad_id)


def test_ids_are_random_and_128_bits() -> None:
    ids = [new_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for value in ids[:100]:
        assert ID_RE.fullmatch(value)
        assert len(base64.urlsafe_b64decode(value + "==")) == 16
    tables = {new_table_name() for _ in range(1000)}
    assert len(tables) == 1000
    assert all(len(t) == 35 for t in tables)


def test_concurrent_sessions_lose_nothing(store: Store, kpi_set_id: str) -> None:
    sessions, per_session = 20, 10
    start = threading.Barrier(sessions)

    def session(number: int) -> list[str]:
        cur = store.cursor()
        start.wait()
        ids = []
        for i in range(per_session):
            ids.append(store.save_view(cur, f"s{number} v{i}", {"session": number, "i": i}))
            ids.append(store.add_note(cur, kpi_set_id, f"KPI {number}", f"s{number}", f"n{i}"))
        return ids

    with ThreadPoolExecutor(max_workers=sessions) as pool:
        ids = [i for batch in pool.map(session, range(sessions)) for i in batch]

    assert len(ids) == len(set(ids)) == 2 * sessions * per_session
    cur = store.cursor()
    views = store.list_views(cur)
    notes = store.notes(cur, kpi_set_id)
    assert {(v.state["session"], v.state["i"]) for v in views} == {
        (s, i) for s in range(sessions) for i in range(per_session)
    }
    assert len(notes) == sessions * per_session
    assert {v.id for v in views} | {n.id for n in notes} == set(ids)
    for number in range(sessions):
        texts = [n.text for n in store.notes(cur, kpi_set_id, f"KPI {number}")]
        assert texts == [f"n{i}" for i in reversed(range(per_session))]


CRASH_WRITER = """
import sys
from kpi_logic.store import Store, new_table_name

store = Store(sys.argv[1], url=sys.argv[2] if len(sys.argv) > 2 else None, allowed_dirs=[])
cur = store.cursor()
table = new_table_name()
cur.execute(f"CREATE TABLE {table} AS SELECT * FROM range(10) t(x)")
dataset_id = store.register_dataset(cur, "d", "d.csv", table, 10, "h")
kpi_set_id = store.save_kpi_set(cur, dataset_id, "k", "version: 0", "w")
print(kpi_set_id, flush=True)
i = 0
while True:
    i += 1
    store.save_view(cur, f"view {i}", {"i": i, "padding": "x" * 2000})
    store.add_note(cur, kpi_set_id, "Sales", "w", f"note {i}")
    store.update_kpi_set(cur, kpi_set_id, f"version: {i}", "w", f"update {i}")
    print(i, flush=True)
"""


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
@pytest.mark.parametrize("extra_wait", [0.0, 0.011, 0.047])
def test_store_survives_a_process_killed_mid_save(
    request: pytest.FixtureRequest, tmp_path: Path, extra_wait: float, backend: str
) -> None:
    path = tmp_path / "crash.duckdb"
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    writer = subprocess.Popen(
        [sys.executable, "-c", CRASH_WRITER, str(path), *([url] if url else [])],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        kpi_set_id = writer.stdout.readline().strip()
        assert kpi_set_id, "the writer did not start"
        while int(writer.stdout.readline()) < 30:
            pass
        time.sleep(extra_wait)
        writer.send_signal(signal.SIGKILL)
        rest = writer.communicate(timeout=60)[0].split()
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    confirmed = int(rest[-1]) if rest else 30

    with Store(path, url=url) as store:
        cur = store.cursor()
        assert store.schema_version(cur) == SCHEMA_VERSION
        kpi_set = store.get_kpi_set(cur, kpi_set_id)
        entries = store.history(cur, kpi_set_id)
        assert confirmed <= kpi_set.version <= confirmed + 1
        assert kpi_set.yaml_text == f"version: {kpi_set.version}"
        assert [e.version for e in entries] == list(range(kpi_set.version, 0, -1))
        for entry in entries:
            assert entry.before_yaml == f"version: {entry.version - 1}"
            assert entry.after_yaml == f"version: {entry.version}"

        views = store.list_views(cur)
        assert confirmed <= len(views) <= confirmed + 1
        raw = records(store, cur).execute("SELECT name, state FROM views").fetchall()
        for name, state in raw:
            parsed = json.loads(state)
            assert name == f"view {parsed['i']}"
            assert parsed["padding"] == "x" * 2000
        assert sorted(v.state["i"] for v in views) == list(range(1, len(views) + 1))
        notes = store.notes(cur, kpi_set_id)
        assert confirmed <= len(notes) <= confirmed + 1
        assert [n.text for n in notes] == [f"note {i}" for i in range(len(notes), 0, -1)]
        # The reopened store takes new saves.
        store.update_kpi_set(cur, kpi_set_id, "after", "t", "after the crash")
        assert store.get_kpi_set(cur, kpi_set_id).version == kpi_set.version + 1
