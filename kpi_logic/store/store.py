"""``Store``: saving and reading datasets, KPI sets and their history, saved views and notes,
each save one transaction (through :class:`~kpi_logic.store.connection.StoreConnection`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import duckdb

from kpi_logic.errors import StoreError
from kpi_logic.sql import quote_ident
from kpi_logic.store.connection import StoreConnection
from kpi_logic.store.records import (
    MAX_NAME_CHARS,
    MAX_NOTE_CHARS,
    MAX_SUMMARY_CHARS,
    MAX_YAML_CHARS,
    TABLE_RE,
    Dataset,
    HistoryEntry,
    KPISet,
    LiveTable,
    Note,
    View,
    _check_id,
    _check_text,
    _state_json,
    _view,
    new_id,
)

REJECTS_SUFFIX = "_rejects"
# Tables a crashed load can leave behind: a dataset table or its rejects without a datasets
# row (made by new_table_name, also retype's staging tables) and ingest's own work tables.
_ORPHAN_RE = re.compile(rf"(?:(ds_[0-9a-f]{{32}})(?:{REJECTS_SUFFIX})?|__kpi_ingest_[0-9a-f]+)")

_DATASET_COLS = "id, name, source_name, table_name, rows, content_hash, created_at"
_KPI_SET_COLS = "id, dataset_id, name, yaml_text, author, version, created_at, updated_at"
_HISTORY_COLS = "kpi_set_id, version, changed_at, author, summary, before_yaml, after_yaml"
_VIEW_COLS = "id, name, state, created_at, updated_at"
_NOTE_COLS = "id, kpi_set_id, kpi_name, author, text, status, created_at"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Store(StoreConnection):
    """One sandboxed DuckDB connection to the store file; take a cursor per session.

    The lists of datasets and of KPI sets are kept in memory until the next write through
    this Store (the app keeps one Store per store file per process), so a rerun lists them
    without a query; write through the Store only.
    """

    # Datasets ---------------------------------------------------------------------------

    def register_dataset(
        self,
        cur: duckdb.DuckDBPyConnection,
        name: str,
        source_name: str,
        table: str,
        rows: int,
        content_hash: str,
    ) -> str:
        """Record an ingested ``table`` (made with :func:`new_table_name`); return its id."""
        _check_text(name, "dataset name", MAX_NAME_CHARS)
        _check_text(source_name, "file name", MAX_NAME_CHARS)
        _check_text(content_hash, "content hash", MAX_NAME_CHARS)
        if not isinstance(table, str) or not TABLE_RE.fullmatch(table):
            raise StoreError(f"The table name {table!r} was not made by new_table_name().")
        dataset_id = new_id()
        with self._write(cur):
            exists = cur.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = current_schema() AND table_name = ?",
                [table],
            ).fetchone()
            if not exists or not exists[0]:
                raise StoreError("The uploaded data was not saved; please upload the file again.")
            cur.execute(
                f"INSERT INTO datasets ({_DATASET_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [dataset_id, name, source_name, table, int(rows), content_hash, _now()],
            )
        return dataset_id

    def list_datasets(self, cur: duckdb.DuckDBPyConnection) -> list[Dataset]:
        """Every dataset, newest first."""
        query = f"SELECT {_DATASET_COLS} FROM datasets ORDER BY seq DESC"
        return [Dataset(*row) for row in self._listed(cur, ("datasets",), query, [])]

    def get_dataset(self, cur: duckdb.DuckDBPyConnection, dataset_id: str) -> Dataset:
        """The dataset ``dataset_id``; StoreError if it does not exist."""
        _check_id(dataset_id, "dataset")
        row = cur.execute(
            f"SELECT {_DATASET_COLS} FROM datasets WHERE id = ?", [dataset_id]
        ).fetchone()
        if row is None:
            raise StoreError("This dataset no longer exists.")
        return Dataset(*row)

    def find_dataset_by_hash(
        self, cur: duckdb.DuckDBPyConnection, content_hash: str
    ) -> Dataset | None:
        """The newest dataset with this content hash, or None (to skip re-ingesting a file)."""
        row = cur.execute(
            f"SELECT {_DATASET_COLS} FROM datasets WHERE content_hash = ? ORDER BY seq DESC "
            "LIMIT 1",
            [content_hash],
        ).fetchone()
        return Dataset(*row) if row else None

    def replace_table(
        self,
        cur: duckdb.DuckDBPyConnection,
        dataset_id: str,
        staging: str,
        rows: int,
        content_hash: str,
    ) -> None:
        """Swap a reloaded table ``staging`` and its rejects (``staging + REJECTS_SUFFIX``) in
        for the dataset's and record its new row count and content hash, all in one
        transaction: a failure leaves the dataset, its rejects and its hash as they were."""
        _check_text(content_hash, "content hash", MAX_NAME_CHARS)
        if not isinstance(staging, str) or not TABLE_RE.fullmatch(staging):
            raise StoreError(f"The table name {staging!r} was not made by new_table_name().")
        with self._write(cur):
            table = self.get_dataset(cur, dataset_id).table
            for old, new in ((table, staging), (table + REJECTS_SUFFIX, staging + REJECTS_SUFFIX)):
                cur.execute(f"DROP TABLE IF EXISTS {quote_ident(old)}")
                cur.execute(f"ALTER TABLE {quote_ident(new)} RENAME TO {quote_ident(old)}")
            cur.execute(
                "UPDATE datasets SET rows = ?, content_hash = ? WHERE id = ?",
                [int(rows), content_hash, dataset_id],
            )

    def delete_dataset(self, cur: duckdb.DuckDBPyConnection, dataset_id: str) -> Dataset:
        """Delete a dataset, its table and rejects, its KPI sets with their history and notes;
        return what was deleted. A dataset that no longer exists (a stale button in another
        tab) is refused with "This dataset was already deleted.": nothing else is deleted."""
        _check_id(dataset_id, "dataset")
        with self._write(cur):
            row = cur.execute(
                f"SELECT {_DATASET_COLS} FROM datasets WHERE id = ?", [dataset_id]
            ).fetchone()
            if row is None:
                raise StoreError("This dataset was already deleted.")
            dataset = Dataset(*row)
            sets = "SELECT id FROM kpi_sets WHERE dataset_id = ?"
            cur.execute(f"DELETE FROM notes WHERE kpi_set_id IN ({sets})", [dataset_id])
            cur.execute(f"DELETE FROM history WHERE kpi_set_id IN ({sets})", [dataset_id])
            cur.execute("DELETE FROM kpi_sets WHERE dataset_id = ?", [dataset_id])
            cur.execute("DELETE FROM datasets WHERE id = ?", [dataset_id])
            cur.execute("DELETE FROM live_tables WHERE dataset_id = ?", [dataset_id])
            for table in (dataset.table, dataset.table + REJECTS_SUFFIX):
                cur.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")
        return dataset

    def link_live_table(
        self,
        cur: duckdb.DuckDBPyConnection,
        dataset_id: str,
        connection: str,
        schema: str | None,
        table: str,
    ) -> None:
        """Record that dataset ``dataset_id`` is the live ``schema.table`` of ``connection``."""
        _check_id(dataset_id, "dataset")
        for value, what in ((connection, "connection name"), (table, "table name")):
            _check_text(value, what, MAX_NAME_CHARS)
        if schema is not None:
            _check_text(schema, "schema name", MAX_NAME_CHARS)
        with self._write(cur):
            cur.execute(
                "INSERT INTO live_tables VALUES (?, ?, ?, ?, ?)",
                [dataset_id, connection, schema, table, _now()],
            )

    def live_table(self, cur: duckdb.DuckDBPyConnection, dataset_id: str) -> LiveTable | None:
        """Where the live dataset ``dataset_id`` is; None for an uploaded one."""
        row = cur.execute(
            "SELECT dataset_id, connection, schema_name, table_name, refreshed_at "
            "FROM live_tables WHERE dataset_id = ?",
            [dataset_id],
        ).fetchone()
        return LiveTable(*row) if row else None

    def refresh_live_table(self, cur: duckdb.DuckDBPyConnection, dataset_id: str) -> None:
        """Mark the live dataset's cached figures as stale (now)."""
        with self._write(cur):
            cur.execute(
                "UPDATE live_tables SET refreshed_at = ? WHERE dataset_id = ?", [_now(), dataset_id]
            )

    def drop_orphan_tables(self, cur: duckdb.DuckDBPyConnection) -> list[str]:
        """Drop what crashed loads left behind: dataset tables and rejects without a datasets
        row, retype's staging tables and ingest's work tables; return their names. Only for
        when the store is opened: a load running meanwhile would lose its table."""
        with self._write(cur):
            known = {r[0] for r in cur.execute("SELECT table_name FROM datasets").fetchall()}
            names = cur.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = current_schema()"
            ).fetchall()
            dropped = []
            for (name,) in names:
                match = _ORPHAN_RE.fullmatch(name)
                if match and match.group(1) not in known:
                    cur.execute(f"DROP TABLE {quote_ident(name)}")
                    dropped.append(name)
        return dropped

    # KPI sets and history ---------------------------------------------------------------

    def save_kpi_set(
        self,
        cur: duckdb.DuckDBPyConnection,
        dataset_id: str,
        name: str,
        yaml_text: str,
        author: str,
    ) -> str:
        """Save a new KPI set (version 0) for a dataset; return its id."""
        _check_id(dataset_id, "dataset")
        _check_text(name, "KPI set name", MAX_NAME_CHARS)
        _check_text(yaml_text, "KPI file", MAX_YAML_CHARS, required=False)
        _check_text(author, "author", MAX_NAME_CHARS, required=False)
        kpi_set_id, now = new_id(), _now()
        with self._write(cur):
            self.get_dataset(cur, dataset_id)
            cur.execute(
                f"INSERT INTO kpi_sets ({_KPI_SET_COLS}) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                [kpi_set_id, dataset_id, name, yaml_text, author, now, now],
            )
        return kpi_set_id

    def get_kpi_set(self, cur: duckdb.DuckDBPyConnection, kpi_set_id: str) -> KPISet:
        """The KPI set ``kpi_set_id``; StoreError if it does not exist."""
        _check_id(kpi_set_id, "KPI set")
        row = cur.execute(
            f"SELECT {_KPI_SET_COLS} FROM kpi_sets WHERE id = ?", [kpi_set_id]
        ).fetchone()
        if row is None:
            raise StoreError("This KPI set no longer exists.")
        return KPISet(*row)

    def list_kpi_sets(self, cur: duckdb.DuckDBPyConnection, dataset_id: str) -> list[KPISet]:
        """The KPI sets of a dataset, newest first."""
        _check_id(dataset_id, "dataset")
        query = f"SELECT {_KPI_SET_COLS} FROM kpi_sets WHERE dataset_id = ? ORDER BY seq DESC"
        rows = self._listed(cur, ("kpi_sets", dataset_id), query, [dataset_id])
        return [KPISet(*row) for row in rows]

    def update_kpi_set(
        self,
        cur: duckdb.DuckDBPyConnection,
        kpi_set_id: str,
        yaml_text: str,
        author: str,
        change_summary: str,
        *,
        expected_version: int | None = None,
    ) -> int:
        """Replace the YAML, append a history row in the same transaction; return the version.

        With ``expected_version`` (the version the user started editing), the update is refused
        if someone else saved in between, instead of silently overwriting their change.
        """
        _check_text(yaml_text, "KPI file", MAX_YAML_CHARS, required=False)
        _check_text(author, "author", MAX_NAME_CHARS, required=False)
        _check_text(change_summary, "change summary", MAX_SUMMARY_CHARS, required=False)
        now = _now()
        with self._write(cur):
            before = self.get_kpi_set(cur, kpi_set_id)
            if expected_version is not None and before.version != expected_version:
                raise StoreError(
                    f"{before.author or 'Someone'} changed this KPI set since you opened it; "
                    "reload it and apply your change again."
                )
            version = before.version + 1
            cur.execute(
                "UPDATE kpi_sets SET yaml_text = ?, author = ?, version = ?, updated_at = ? "
                "WHERE id = ?",
                [yaml_text, author, version, now, kpi_set_id],
            )
            cur.execute(
                f"INSERT INTO history ({_HISTORY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [kpi_set_id, version, now, author, change_summary, before.yaml_text, yaml_text],
            )
        return version

    def history(self, cur: duckdb.DuckDBPyConnection, kpi_set_id: str) -> list[HistoryEntry]:
        """The updates of a KPI set, newest first."""
        _check_id(kpi_set_id, "KPI set")
        rows = cur.execute(
            f"SELECT {_HISTORY_COLS} FROM history WHERE kpi_set_id = ? ORDER BY version DESC",
            [kpi_set_id],
        ).fetchall()
        return [HistoryEntry(*row) for row in rows]

    # Saved views ------------------------------------------------------------------------

    def save_view(self, cur: duckdb.DuckDBPyConnection, name: str, state: dict[str, Any]) -> str:
        """Save a named view state (a JSON-serialisable dict); return its id."""
        _check_text(name, "view name", MAX_NAME_CHARS)
        text = _state_json(state)
        view_id, now = new_id(), _now()
        with self._write(cur):
            cur.execute(
                f"INSERT INTO views ({_VIEW_COLS}) VALUES (?, ?, ?, ?, ?)",
                [view_id, name, text, now, now],
            )
        return view_id

    def get_view(self, cur: duckdb.DuckDBPyConnection, view_id: str) -> View:
        """The saved view ``view_id``; StoreError if it does not exist."""
        _check_id(view_id, "saved view")
        row = cur.execute(f"SELECT {_VIEW_COLS} FROM views WHERE id = ?", [view_id]).fetchone()
        if row is None:
            raise StoreError("This saved view no longer exists.")
        return _view(row)

    def list_views(self, cur: duckdb.DuckDBPyConnection) -> list[View]:
        """Every saved view, newest first."""
        rows = cur.execute(f"SELECT {_VIEW_COLS} FROM views ORDER BY seq DESC").fetchall()
        return [_view(row) for row in rows]

    def rename_view(self, cur: duckdb.DuckDBPyConnection, view_id: str, name: str) -> None:
        """Give a saved view a new name."""
        _check_text(name, "view name", MAX_NAME_CHARS)
        with self._write(cur):
            self.get_view(cur, view_id)
            cur.execute(
                "UPDATE views SET name = ?, updated_at = ? WHERE id = ?", [name, _now(), view_id]
            )

    def delete_view(self, cur: duckdb.DuckDBPyConnection, view_id: str) -> None:
        """Delete a saved view; links to it then report that it no longer exists."""
        with self._write(cur):
            self.get_view(cur, view_id)
            cur.execute("DELETE FROM views WHERE id = ?", [view_id])

    # Notes ------------------------------------------------------------------------------

    def add_note(
        self,
        cur: duckdb.DuckDBPyConnection,
        kpi_set_id: str,
        kpi_name: str,
        author: str,
        text: str,
        status: str | None = None,
    ) -> str:
        """Add a note on one KPI of a KPI set; return its id."""
        _check_text(kpi_name, "KPI name", MAX_NAME_CHARS)
        _check_text(author, "author", MAX_NAME_CHARS, required=False)
        _check_text(text, "note", MAX_NOTE_CHARS)
        if status is not None:
            _check_text(status, "status", MAX_NAME_CHARS)
        note_id = new_id()
        with self._write(cur):
            self.get_kpi_set(cur, kpi_set_id)
            cur.execute(
                f"INSERT INTO notes ({_NOTE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [note_id, kpi_set_id, kpi_name, author, text, status, _now()],
            )
        return note_id

    def notes(
        self, cur: duckdb.DuckDBPyConnection, kpi_set_id: str, kpi_name: str | None = None
    ) -> list[Note]:
        """Notes of a KPI set (or of one KPI in it), newest first."""
        return self._notes(cur, kpi_set_id, kpi_name, "")

    def last_note(
        self, cur: duckdb.DuckDBPyConnection, kpi_set_id: str, kpi_name: str | None = None
    ) -> Note | None:
        """The newest note of a KPI set (or of one KPI in it), or None."""
        found = self._notes(cur, kpi_set_id, kpi_name, " LIMIT 1")
        return found[0] if found else None

    def _notes(
        self, cur: duckdb.DuckDBPyConnection, kpi_set_id: str, kpi_name: str | None, limit: str
    ) -> list[Note]:
        _check_id(kpi_set_id, "KPI set")
        where, params = "kpi_set_id = ?", [kpi_set_id]
        if kpi_name is not None:
            where, params = where + " AND kpi_name = ?", [*params, kpi_name]
        rows = cur.execute(
            f"SELECT {_NOTE_COLS} FROM notes WHERE {where} ORDER BY seq DESC{limit}", params
        ).fetchall()
        return [Note(*row) for row in rows]
