"""``Store``: saving and reading datasets, KPI sets and their history, saved views and notes,
each save one transaction (through :class:`~kpi_logic.store.connection.StoreConnection`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import duckdb

from kpi_logic.errors import StoreError
from kpi_logic.store.datasets import DatasetRecords
from kpi_logic.store.records import (
    MAX_NAME_CHARS,
    MAX_NOTE_CHARS,
    MAX_SUMMARY_CHARS,
    MAX_YAML_CHARS,
    DeletionImpact,
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

_KPI_SET_COLS = "id, dataset_id, name, yaml_text, author, version, created_at, updated_at"
_HISTORY_COLS = "kpi_set_id, version, changed_at, author, summary, before_yaml, after_yaml"
_VIEW_COLS = "id, name, state, created_at, updated_at"
_NOTE_COLS = "id, kpi_set_id, kpi_name, author, text, status, created_at, period"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Store(DatasetRecords):
    """The store: one sandboxed DuckDB connection (the compute engine and, by default, where
    everything is saved); take a cursor per session.

    The lists of datasets and of KPI sets are kept in memory until the next write through
    this Store (the app keeps one Store per store file per process), so a rerun lists them
    without a query; write through the Store only.
    """

    # Live tables (a dataset whose rows are in another database) ---------------------------

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
        with self._write(cur) as db:
            db.execute(
                "INSERT INTO live_tables VALUES (?, ?, ?, ?, ?)",
                [dataset_id, connection, schema, table, _now()],
            )

    def live_table(self, cur: duckdb.DuckDBPyConnection, dataset_id: str) -> LiveTable | None:
        """Where the live dataset ``dataset_id`` is; None for an uploaded one."""
        row = (
            self._db(cur)
            .execute(
                "SELECT dataset_id, connection, schema_name, table_name, refreshed_at "
                "FROM live_tables WHERE dataset_id = ?",
                [dataset_id],
            )
            .fetchone()
        )
        return LiveTable(*row) if row else None

    def refresh_live_table(self, cur: duckdb.DuckDBPyConnection, dataset_id: str) -> None:
        """Mark the live dataset's cached figures as stale (now)."""
        with self._write(cur) as db:
            db.execute(
                "UPDATE live_tables SET refreshed_at = ? WHERE dataset_id = ?", [_now(), dataset_id]
            )

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
        with self._write(cur) as db:
            self.get_dataset(cur, dataset_id)
            db.execute(
                f"INSERT INTO kpi_sets ({_KPI_SET_COLS}) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                [kpi_set_id, dataset_id, name, yaml_text, author, now, now],
            )
        return kpi_set_id

    def get_kpi_set(self, cur: duckdb.DuckDBPyConnection, kpi_set_id: str) -> KPISet:
        """The KPI set ``kpi_set_id``; StoreError if it does not exist."""
        _check_id(kpi_set_id, "KPI set")
        row = (
            self._db(cur)
            .execute(f"SELECT {_KPI_SET_COLS} FROM kpi_sets WHERE id = ?", [kpi_set_id])
            .fetchone()
        )
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
        with self._write(cur) as db:
            before = self.get_kpi_set(cur, kpi_set_id)
            if expected_version is not None and before.version != expected_version:
                raise StoreError(
                    f"{before.author or 'Someone'} changed this KPI set since you opened it; "
                    "reload it and apply your change again."
                )
            version = before.version + 1
            db.execute(
                "UPDATE kpi_sets SET yaml_text = ?, author = ?, version = ?, updated_at = ? "
                "WHERE id = ?",
                [yaml_text, author, version, now, kpi_set_id],
            )
            db.execute(
                f"INSERT INTO history ({_HISTORY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [kpi_set_id, version, now, author, change_summary, before.yaml_text, yaml_text],
            )
        return version

    def history(self, cur: duckdb.DuckDBPyConnection, kpi_set_id: str) -> list[HistoryEntry]:
        """The updates of a KPI set, newest first."""
        _check_id(kpi_set_id, "KPI set")
        rows = (
            self._db(cur)
            .execute(
                f"SELECT {_HISTORY_COLS} FROM history WHERE kpi_set_id = ? ORDER BY version DESC",
                [kpi_set_id],
            )
            .fetchall()
        )
        return [HistoryEntry(*row) for row in rows]

    # Saved views ------------------------------------------------------------------------

    def save_view(self, cur: duckdb.DuckDBPyConnection, name: str, state: dict[str, Any]) -> str:
        """Save a named view state (a JSON-serialisable dict); return its id."""
        _check_text(name, "view name", MAX_NAME_CHARS)
        text = _state_json(state)
        view_id, now = new_id(), _now()
        with self._write(cur) as db:
            db.execute(
                f"INSERT INTO views ({_VIEW_COLS}) VALUES (?, ?, ?, ?, ?)",
                [view_id, name, text, now, now],
            )
        return view_id

    def get_view(self, cur: duckdb.DuckDBPyConnection, view_id: str) -> View:
        """The saved view ``view_id``; StoreError if it does not exist."""
        _check_id(view_id, "saved view")
        row = (
            self._db(cur)
            .execute(f"SELECT {_VIEW_COLS} FROM views WHERE id = ?", [view_id])
            .fetchone()
        )
        if row is None:
            raise StoreError("This saved view no longer exists.")
        return _view(row)

    def list_views(self, cur: duckdb.DuckDBPyConnection) -> list[View]:
        """Every saved view, newest first."""
        rows = self._db(cur).execute(f"SELECT {_VIEW_COLS} FROM views ORDER BY seq DESC").fetchall()
        return [_view(row) for row in rows]

    def rename_view(self, cur: duckdb.DuckDBPyConnection, view_id: str, name: str) -> None:
        """Give a saved view a new name."""
        _check_text(name, "view name", MAX_NAME_CHARS)
        with self._write(cur) as db:
            self.get_view(cur, view_id)
            db.execute(
                "UPDATE views SET name = ?, updated_at = ? WHERE id = ?", [name, _now(), view_id]
            )

    def delete_view(self, cur: duckdb.DuckDBPyConnection, view_id: str) -> None:
        """Delete a saved view; links to it then report that it no longer exists."""
        with self._write(cur) as db:
            self.get_view(cur, view_id)
            db.execute("DELETE FROM views WHERE id = ?", [view_id])

    def deletion_impact(self, cur: duckdb.DuckDBPyConnection, dataset_id: str) -> DeletionImpact:
        """What :meth:`delete_dataset` would take with the dataset ``dataset_id``: its KPI sets
        by name (newest first), the notes and history lines of those sets, its versions, and
        the saved views that open it by name. StoreError if it does not exist."""
        self.get_dataset(cur, dataset_id)
        db = self._db(cur)
        sets = "SELECT id FROM kpi_sets WHERE dataset_id = ?"
        counts = []
        for query in (
            f"SELECT count(*) FROM notes WHERE kpi_set_id IN ({sets})",
            f"SELECT count(*) FROM history WHERE kpi_set_id IN ({sets})",
            "SELECT count(*) FROM dataset_versions WHERE dataset_id = ?",
        ):
            counts.append(int(db.execute(query, [dataset_id]).fetchone()[0]))
        return DeletionImpact(
            kpi_sets=tuple(s.name for s in self.list_kpi_sets(cur, dataset_id)),
            notes=counts[0],
            history=counts[1],
            versions=counts[2],
            views=tuple(v.name for v in self.list_views(cur) if v.state.get("ds") == dataset_id),
        )

    # Notes ------------------------------------------------------------------------------

    def add_note(
        self,
        cur: duckdb.DuckDBPyConnection,
        kpi_set_id: str,
        kpi_name: str,
        author: str,
        text: str,
        status: str | None = None,
        period: date | None = None,
    ) -> str:
        """Add a note on one KPI of a KPI set (tied to ``period``, a period's first day, when
        given); return its id."""
        _check_text(kpi_name, "KPI name", MAX_NAME_CHARS)
        _check_text(author, "author", MAX_NAME_CHARS, required=False)
        _check_text(text, "note", MAX_NOTE_CHARS)
        if status is not None:
            _check_text(status, "status", MAX_NAME_CHARS)
        note_id = new_id()
        with self._write(cur) as db:
            self.get_kpi_set(cur, kpi_set_id)
            db.execute(
                f"INSERT INTO notes ({_NOTE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [note_id, kpi_set_id, kpi_name, author, text, status, _now(), period],
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
        rows = (
            self._db(cur)
            .execute(
                f"SELECT {_NOTE_COLS} FROM notes WHERE {where} ORDER BY seq DESC{limit}", params
            )
            .fetchall()
        )
        return [Note(*row) for row in rows]
