"""Dataset versions in the engine: a new version replaces the data and keeps KPI sets, notes
and views; an append skips rows by key; any version can be restored; the schema diff names
the KPIs a new file would break. Real files, a real store; expected figures from plain
Python over the same rows."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from kpi_logic import versions, workspace
from kpi_logic.errors import IngestError, StoreError
from kpi_logic.sql import quote_ident
from kpi_logic.store import SCHEMA_VERSION, Dataset, Store

KPIS = """kpis:
  - name: Revenue
    measure: sum("Amount")
    time: Day
    grain: month
    by: Region
    target: 100
  - name: Orders
    measure: count_distinct("Order")
    target: 3
"""


@pytest.fixture(params=["duckdb", "postgres"])
def setup(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Store, duckdb.DuckDBPyConnection, Path]]:
    """A store of each kind (embedded; PostgreSQL team store), its cursor, its uploads."""
    uploads = tmp_path / "uploads"
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with Store(tmp_path / "kpi_store.duckdb", url=url, allowed_dirs=[uploads]) as store:
        yield store, store.cursor(), uploads


def rows_csv(
    rows: list[tuple[str, str, str, float]], header: str = "Order,Day,Region,Amount"
) -> bytes:
    lines = [header] + [f"{o},{d},{r},{a}" for o, d, r, a in rows]
    return ("\n".join(lines) + "\n").encode()


FIRST = [(f"o{i}", f"2024-01-{1 + i:02d}", "West" if i % 2 else "East", 10.0 + i) for i in range(6)]
SECOND = [(f"o{i}", f"2024-02-{1 + i:02d}", "North", 5.0 * i) for i in range(4, 12)]


def upload(store: Store, cur, uploads: Path, name: str, content: bytes) -> Dataset:
    path = workspace.save_upload(uploads, name, io.BytesIO(content))
    dataset, _ = workspace.add_dataset(store, cur, path, name, uploads, author="ann")
    return dataset


def staged(store: Store, cur, uploads: Path, name: str, content: bytes) -> workspace.Staged:
    return workspace.stage(
        store, cur, workspace.save_upload(uploads, name, io.BytesIO(content)), uploads
    )


def total(cur, dataset: Dataset) -> tuple[int, float]:
    row = cur.execute(f"SELECT count(*), sum(Amount) FROM {quote_ident(dataset.table)}").fetchone()
    return row[0], row[1]


def test_a_new_version_keeps_kpis_notes_and_views_and_old_versions_restore(setup) -> None:
    store, cur, uploads = setup
    first = upload(store, cur, uploads, "orders.csv", rows_csv(FIRST))
    kpi_set = store.save_kpi_set(cur, first.id, "Sales", KPIS, "ann")
    store.add_note(cur, kpi_set, "Revenue", "ann", "January was slow")
    view = store.save_view(cur, "West", {"ds": first.id})

    new = staged(store, cur, uploads, "orders.csv", rows_csv(SECOND))
    check = versions.check(store, cur, first, new)
    assert not check.diff
    assert check.broken == ()
    second = versions.replace(store, cur, first, new, uploads, "bob")
    assert (second.id, second.version, second.current) == (first.id, 2, 2)
    assert total(cur, second) == (len(SECOND), pytest.approx(sum(r[3] for r in SECOND)))
    assert [s.id for s in store.list_kpi_sets(cur, first.id)] == [kpi_set]
    assert [n.text for n in store.notes(cur, kpi_set)] == ["January was slow"]
    assert store.get_view(cur, view).state == {"ds": first.id}
    assert [d.id for d in store.list_datasets(cur)] == [first.id]  # still one dataset

    listed = store.list_versions(cur, first.id)
    assert [(v.version, v.rows, v.author) for v in listed] == [(2, 8, "bob"), (1, 6, "ann")]
    assert all(v.source_name == "orders.csv" and isinstance(v.created_at, datetime) for v in listed)
    old = store.get_dataset(cur, first.id, 1)
    assert (old.pinned, old.table, old.current) == (True, first.table, 2)
    assert total(cur, old) == (len(FIRST), pytest.approx(sum(r[3] for r in FIRST)))

    restored = versions.restore(store, cur, first.id, 1, "cy")
    assert (restored.version, restored.current, restored.table) == (1, 1, first.table)
    assert store.get_dataset(cur, first.id).rows == len(FIRST)
    with pytest.raises(StoreError, match="already the current"):
        versions.restore(store, cur, first.id, 1, "cy")
    with pytest.raises(StoreError, match="Version 9 of this dataset does not exist"):
        store.get_dataset(cur, first.id, 9)
    lines = [(e.author, e.summary) for e in store.dataset_history(cur, first.id)]
    assert lines == [
        ("cy", "Restored version 1 (orders.csv, 6 rows)"),
        ("bob", "Version 2: New version from orders.csv (8 rows)"),
        ("ann", "Version 1: Uploaded orders.csv (6 rows)"),
    ]

    workspace.delete_dataset(store, cur, first.id, uploads)
    left = {r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert not any(t.startswith((first.table, second.table)) for t in left)
    assert not list(uploads.iterdir())


def test_append_skips_rows_whose_key_is_there_and_counts_them(setup) -> None:
    store, cur, uploads = setup
    first = upload(store, cur, uploads, "orders.csv", rows_csv(FIRST))
    repeated = [*SECOND, SECOND[-1]]  # the last row twice in the new file
    new = staged(store, cur, uploads, "feb.csv", rows_csv(repeated))
    done = versions.append(store, cur, first, new, uploads, "bob", "Order")

    known = {r[0] for r in FIRST}
    fresh, seen = [], set()
    for row in repeated:
        if row[0] not in known and row[0] not in seen:
            fresh.append(row)
            seen.add(row[0])
    assert (done.added, done.skipped) == (len(fresh), len(repeated) - len(fresh))
    assert done.dataset.version == 2
    expected = sum(r[3] for r in FIRST) + sum(r[3] for r in fresh)
    assert total(cur, done.dataset) == (len(FIRST) + len(fresh), pytest.approx(expected))
    orders = cur.execute(f'SELECT "Order" FROM {quote_ident(done.dataset.table)}').fetchall()
    assert len({o for (o,) in orders}) == len(orders)
    assert store.dataset_history(cur, first.id)[0].summary == (
        f"Version 2: Appended {len(fresh)} rows from feb.csv, "
        f"{len(repeated) - len(fresh)} skipped as already there by Order"
    )
    assert total(cur, store.get_dataset(cur, first.id, 1))[0] == len(FIRST)  # v1 untouched

    plain = staged(store, cur, uploads, "again.csv", rows_csv(FIRST[:2]))
    again = versions.append(store, cur, done.dataset, plain, uploads, "bob", None)
    assert (again.added, again.skipped, again.dataset.version) == (2, 0, 3)


def test_append_refuses_other_columns_and_values_that_do_not_fit(setup) -> None:
    store, cur, uploads = setup
    first = upload(store, cur, uploads, "orders.csv", rows_csv(FIRST))
    other = staged(store, cur, uploads, "x.csv", b"Order,Day,Amount\no9,2024-03-01,4\n")
    with pytest.raises(IngestError, match="same columns.*Removed: Region"):
        versions.append(store, cur, first, other, uploads, "bob", "Order")
    bad = staged(
        store,
        cur,
        uploads,
        "y.csv",
        b"Order,Day,Region,Amount\no9,someday,West,4\no10,never,East,5\n",
    )
    with pytest.raises(IngestError, match="do not fit"):
        versions.append(store, cur, first, bad, uploads, "bob", "Order")
    assert store.get_dataset(cur, first.id) == first
    assert [v.version for v in store.list_versions(cur, first.id)] == [1]
    names = {r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {n for n in names if n.startswith("ds_")} == {first.table, first.table + "_rejects"}
    assert not other.path.exists()
    assert not bad.path.exists()


def test_the_schema_diff_names_the_kpis_a_new_file_breaks(setup) -> None:
    store, cur, uploads = setup
    first = upload(store, cur, uploads, "orders.csv", rows_csv(FIRST))
    store.save_kpi_set(cur, first.id, "Sales", KPIS, "ann")
    content = b"Order,Day,Area,Amount\no1,2024-03-01,West,a lot\n"
    new = staged(store, cur, uploads, "march.csv", content)
    check = versions.check(store, cur, first, new)
    assert check.diff.added == ("Area",)
    assert check.diff.removed == ("Region",)
    assert check.diff.retyped == (("Amount", "number", "text"),)
    broken = {b.kpi: b.reason for b in check.broken}
    assert set(broken) == {"Revenue"}  # Orders only counts "Order": it still works
    assert "Region" in broken["Revenue"]
    assert all(b.kpi_set == "Sales" for b in check.broken)
    workspace.unstage(store, cur, new, uploads)  # "Cancel": nothing was taken
    assert [v.version for v in store.list_versions(cur, first.id)] == [1]
    names = {r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert new.table not in names
    assert not new.path.exists()


def test_same_names_get_labels_that_tell_them_apart(setup) -> None:
    store, cur, uploads = setup
    a = upload(store, cur, uploads, "superstore.csv", rows_csv(FIRST))
    taken = [d.name for d in store.list_datasets(cur)]
    assert versions.same_name("superstore.csv", store.list_datasets(cur)) == a
    b_name = versions.unique_name("superstore.csv", taken)
    assert b_name == "superstore.csv (2)"
    path = workspace.save_upload(uploads, "superstore.csv", io.BytesIO(rows_csv(FIRST)))
    workspace.add_dataset(store, cur, path, b_name, uploads)
    # even two datasets with one name (a store from before) get distinct labels
    path = workspace.save_upload(uploads, "superstore.csv", io.BytesIO(rows_csv(FIRST)))
    workspace.add_dataset(store, cur, path, "superstore.csv", uploads)
    labels = versions.labels(store.list_datasets(cur))
    assert len(set(labels.values())) == 3
    assert labels[a.id].startswith("superstore.csv · v1 · 6 rows · ")


def test_a_store_of_schema_1_is_migrated_on_opening(tmp_path: Path) -> None:
    from kpi_logic.store.connection import _SCHEMA

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    for statement in _SCHEMA:
        con.execute(statement)
    con.execute("INSERT INTO schema_version VALUES (1)")
    con.execute("CREATE TABLE ds_0123456789abcdef0123456789abcdef AS SELECT 1 AS x")
    con.execute(
        "INSERT INTO datasets (id, name, source_name, table_name, rows, content_hash, created_at) "
        "VALUES ('abcdefghijklmnopqrstuv', 'Old', 'old.csv', 'ds_0123456789abcdef0123456789abcdef',"
        " 1, 'h', TIMESTAMP '2024-01-01 00:00:00')"
    )
    con.close()
    with Store(path, allowed_dirs=[]) as store:
        cur = store.cursor()
        assert cur.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        (dataset,) = store.list_datasets(cur)
        assert (dataset.name, dataset.version, dataset.rows) == ("Old", 1, 1)
        (version,) = store.list_versions(cur, dataset.id)
        assert (version.source_name, version.created_at) == ("old.csv", datetime(2024, 1, 1))
        assert store.drop_orphan_tables(cur) == []  # its table is known
