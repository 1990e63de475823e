"""Datasets in the store: their versions (each a table of the compute engine), the version
links follow, restores and the history of every refresh; each save one transaction.

Records (names, versions, history) are read and written through ``db`` (see
:meth:`StoreConnection._db`); the tables themselves always live in the DuckDB connection
``cur``, the engine that computes.
"""

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
    MAX_SUMMARY_CHARS,
    TABLE_RE,
    Dataset,
    DatasetEvent,
    DatasetVersion,
    _check_id,
    _check_text,
    new_id,
)

REJECTS_SUFFIX = "_rejects"
# Tables a crashed load can leave behind: a dataset table or its rejects without a version
# row (made by new_table_name, also staged uploads and retype's staging tables) and ingest's
# own work tables.
_ORPHAN_RE = re.compile(rf"(?:(ds_[0-9a-f]{{32}})(?:{REJECTS_SUFFIX})?|__kpi_ingest_[0-9a-f]+)")

_DATASET_SELECT = (
    "SELECT d.id, d.name, v.source_name, v.table_name, v.rows, v.content_hash, v.created_at, "
    "v.version, d.version FROM datasets d JOIN dataset_versions v ON v.dataset_id = d.id"
)
_VERSION_COLS = (
    "dataset_id, version, table_name, source_name, rows, content_hash, author, summary, created_at"
)

_INSERT_VERSION = f"INSERT INTO dataset_versions ({_VERSION_COLS}) VALUES ({', '.join('?' * 9)})"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _check_table(table: object) -> str:
    if not isinstance(table, str) or not TABLE_RE.fullmatch(table):
        raise StoreError(f"The table name {table!r} was not made by new_table_name().")
    return table


class DatasetRecords(StoreConnection):
    """The dataset part of :class:`~kpi_logic.store.Store`."""

    def _require_table(self, cur: duckdb.DuckDBPyConnection, table: str) -> None:
        """Refuse to record a table the compute engine does not hold."""
        exists = cur.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = current_schema() AND table_name = ?",
            [table],
        ).fetchone()
        if not exists or not exists[0]:
            raise StoreError("The uploaded data was not saved; please upload the file again.")

    def _event(self, db: Any, dataset_id: str, author: str, summary: str) -> None:
        db.execute(
            "INSERT INTO dataset_history (dataset_id, changed_at, author, summary) "
            "VALUES (?, ?, ?, ?)",
            [dataset_id, _now(), author, summary[:MAX_SUMMARY_CHARS]],
        )

    def register_dataset(
        self,
        cur: duckdb.DuckDBPyConnection,
        name: str,
        source_name: str,
        table: str,
        rows: int,
        content_hash: str,
        author: str = "",
    ) -> str:
        """Record an ingested ``table`` (made with :func:`new_table_name`) as version 1 of a
        new dataset; return its id."""
        _check_text(name, "dataset name", MAX_NAME_CHARS)
        _check_text(source_name, "file name", MAX_NAME_CHARS)
        _check_text(content_hash, "content hash", MAX_NAME_CHARS)
        _check_text(author, "author", MAX_NAME_CHARS, required=False)
        _check_table(table)
        dataset_id, now = new_id(), _now()
        with self._write(cur) as db:
            self._require_table(cur, table)
            db.execute(
                "INSERT INTO datasets (id, name, source_name, table_name, rows, content_hash, "
                "created_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                [dataset_id, name, source_name, table, int(rows), content_hash, now],
            )
            summary = f"Uploaded {source_name}"
            db.execute(
                _INSERT_VERSION,
                [dataset_id, 1, table, source_name, int(rows), content_hash, author, summary, now],
            )
            self._event(db, dataset_id, author, f"Version 1: {summary} ({int(rows):,} rows)")
            self._saved_table(cur, db, table)
        return dataset_id

    def add_version(
        self,
        cur: duckdb.DuckDBPyConnection,
        dataset_id: str,
        table: str,
        source_name: str,
        rows: int,
        content_hash: str,
        author: str,
        summary: str,
    ) -> int:
        """Record ``table`` as the dataset's next version and make it the current one (links
        and views follow it); its KPI sets, views and notes stay. Returns the version."""
        _check_text(source_name, "file name", MAX_NAME_CHARS)
        _check_text(content_hash, "content hash", MAX_NAME_CHARS)
        _check_text(author, "author", MAX_NAME_CHARS, required=False)
        _check_text(summary, "change summary", MAX_SUMMARY_CHARS)
        _check_table(table)
        with self._write(cur) as db:
            self._require_table(cur, table)
            self.get_dataset(cur, dataset_id)  # still there
            row = db.execute(
                "SELECT max(version) FROM dataset_versions WHERE dataset_id = ?", [dataset_id]
            ).fetchone()
            version = int(row[0]) + 1 if row and row[0] is not None else 1
            db.execute(
                _INSERT_VERSION,
                [dataset_id, version, table, source_name, int(rows), content_hash, author]
                + [summary, _now()],
            )
            self._point_at(db, dataset_id, version)
            self._event(db, dataset_id, author, f"Version {version}: {summary}")
            self._saved_table(cur, db, table)
        return version

    def _point_at(self, db: Any, dataset_id: str, version: int) -> None:
        """Make ``version`` the dataset's current one (the columns of ``datasets`` mirror it)."""
        db.execute(
            "UPDATE datasets SET version = v.version, table_name = v.table_name, "
            "source_name = v.source_name, rows = v.rows, content_hash = v.content_hash "
            "FROM dataset_versions v WHERE v.dataset_id = datasets.id AND datasets.id = ? "
            "AND v.version = ?",
            [dataset_id, version],
        )

    def restore_version(
        self, cur: duckdb.DuckDBPyConnection, dataset_id: str, version: int, author: str
    ) -> Dataset:
        """Make an earlier ``version`` the current one again (a history line says so);
        return the dataset as it is now."""
        _check_text(author, "author", MAX_NAME_CHARS, required=False)
        with self._write(cur) as db:
            target = self.get_dataset(cur, dataset_id, version)
            if not target.pinned:
                raise StoreError(f"Version {version} is already the current one.")
            self._point_at(db, dataset_id, version)
            self._event(
                db,
                dataset_id,
                author,
                f"Restored version {version} ({target.source_name}, {target.rows:,} rows)",
            )
        return self.get_dataset(cur, dataset_id)

    def list_datasets(self, cur: duckdb.DuckDBPyConnection) -> list[Dataset]:
        """Every dataset at its current version, newest first."""
        query = f"{_DATASET_SELECT} AND v.version = d.version ORDER BY d.seq DESC"
        return [Dataset(*row) for row in self._listed(cur, ("datasets",), query, [])]

    def get_dataset(
        self, cur: duckdb.DuckDBPyConnection, dataset_id: str, version: int | None = None
    ) -> Dataset:
        """The dataset ``dataset_id`` at ``version`` (default: its current one); StoreError
        if either does not exist."""
        _check_id(dataset_id, "dataset")
        db = self._db(cur)
        if version is None:
            query, params = f"{_DATASET_SELECT} AND v.version = d.version WHERE d.id = ?", []
        else:
            query, params = f"{_DATASET_SELECT} AND v.version = ? WHERE d.id = ?", [int(version)]
        row = db.execute(query, [*params, dataset_id]).fetchone()
        if row is not None:
            dataset = Dataset(*row)
            self.ensure_local(cur, dataset.table, dataset.content_hash)
            return dataset
        if (
            version is not None
            and db.execute("SELECT 1 FROM datasets WHERE id = ?", [dataset_id]).fetchone()
        ):
            raise StoreError(f"Version {version} of this dataset does not exist.")
        raise StoreError("This dataset no longer exists.")

    def list_versions(
        self, cur: duckdb.DuckDBPyConnection, dataset_id: str
    ) -> list[DatasetVersion]:
        """Every version of a dataset, newest first."""
        _check_id(dataset_id, "dataset")
        rows = self._db(cur).execute(
            f"SELECT {_VERSION_COLS} FROM dataset_versions WHERE dataset_id = ? "
            "ORDER BY version DESC",
            [dataset_id],
        )
        return [DatasetVersion(*row) for row in rows.fetchall()]

    def dataset_history(
        self, cur: duckdb.DuckDBPyConnection, dataset_id: str
    ) -> list[DatasetEvent]:
        """The history lines of a dataset (versions taken and restored, types changed),
        newest first."""
        _check_id(dataset_id, "dataset")
        rows = self._db(cur).execute(
            "SELECT dataset_id, changed_at, author, summary FROM dataset_history "
            "WHERE dataset_id = ? ORDER BY seq DESC",
            [dataset_id],
        )
        return [DatasetEvent(*row) for row in rows.fetchall()]

    def all_tables(self, cur: duckdb.DuckDBPyConnection) -> set[str]:
        """The tables of every version of every dataset."""
        rows = self._db(cur).execute("SELECT table_name FROM dataset_versions").fetchall()
        return {row[0] for row in rows}

    def find_dataset_by_hash(
        self, cur: duckdb.DuckDBPyConnection, content_hash: str
    ) -> Dataset | None:
        """The newest dataset whose current version has this content hash, or None."""
        row = (
            self._db(cur)
            .execute(
                f"{_DATASET_SELECT} AND v.version = d.version WHERE v.content_hash = ? "
                "ORDER BY d.seq DESC LIMIT 1",
                [content_hash],
            )
            .fetchone()
        )
        return Dataset(*row) if row else None

    def replace_table(
        self,
        cur: duckdb.DuckDBPyConnection,
        dataset: Dataset,
        staging: str,
        rows: int,
        content_hash: str,
        *,
        author: str = "",
        summary: str = "",
    ) -> None:
        """Swap a reloaded table ``staging`` and its rejects (``staging + REJECTS_SUFFIX``) in
        for the table of ``dataset``'s version and record its new row count and content hash,
        all in one transaction: a failure leaves the version, its rejects and its hash as
        they were."""
        _check_text(content_hash, "content hash", MAX_NAME_CHARS)
        _check_table(staging)
        with self._write(cur) as db:
            table = self.get_dataset(cur, dataset.id, dataset.version).table
            for old, new in ((table, staging), (table + REJECTS_SUFFIX, staging + REJECTS_SUFFIX)):
                cur.execute(f"DROP TABLE IF EXISTS {quote_ident(old)}")
                cur.execute(f"ALTER TABLE {quote_ident(new)} RENAME TO {quote_ident(old)}")
            params = [int(rows), content_hash, table]
            db.execute(
                "UPDATE dataset_versions SET rows = ?, content_hash = ? WHERE table_name = ?",
                params,
            )
            db.execute(
                "UPDATE datasets SET rows = ?, content_hash = ? WHERE table_name = ?", params
            )
            if summary:
                self._event(db, dataset.id, author, f"Version {dataset.version}: {summary}")
            self._saved_table(cur, db, table)

    def delete_dataset(self, cur: duckdb.DuckDBPyConnection, dataset_id: str) -> Dataset:
        """Delete a dataset, the tables and rejects of all its versions, its KPI sets with
        their history and notes; return what was deleted. A dataset that no longer exists (a
        stale button in another tab) is refused with "This dataset was already deleted.":
        nothing else is deleted."""
        _check_id(dataset_id, "dataset")
        with self._write(cur) as db:
            try:
                dataset = self.get_dataset(cur, dataset_id)
            except StoreError as err:
                raise StoreError("This dataset was already deleted.") from err
            tables = [v.table for v in self.list_versions(cur, dataset_id)]
            sets = "SELECT id FROM kpi_sets WHERE dataset_id = ?"
            db.execute(f"DELETE FROM notes WHERE kpi_set_id IN ({sets})", [dataset_id])
            db.execute(f"DELETE FROM history WHERE kpi_set_id IN ({sets})", [dataset_id])
            for table_of in ("kpi_sets", "dataset_versions", "dataset_history"):
                db.execute(f"DELETE FROM {table_of} WHERE dataset_id = ?", [dataset_id])
            db.execute("DELETE FROM datasets WHERE id = ?", [dataset_id])
            db.execute("DELETE FROM live_tables WHERE dataset_id = ?", [dataset_id])
            self._forget_tables(db, tables)
            for table in tables:
                for name in (table, table + REJECTS_SUFFIX):
                    cur.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
        return dataset

    def drop_orphan_tables(self, cur: duckdb.DuckDBPyConnection) -> list[str]:
        """Drop what crashed loads left behind: dataset tables and rejects of no version,
        staged uploads, retype's staging tables and ingest's work tables; return their
        names. Only for when the store is opened: a load running meanwhile would lose its
        table."""
        with self._write(cur) as db:
            known = {r[0] for r in db.execute("SELECT table_name FROM dataset_versions").fetchall()}
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
