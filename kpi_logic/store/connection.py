"""The store file's one sandboxed DuckDB connection: opening it with its schema, cursors,
transactions, cached lists and recovery after a write that failed (a full disk, or DuckDB's
fatal error that invalidates the database until it is reopened)."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Self

import duckdb
import psycopg

from kpi_logic.errors import DiskFullError, StoreDamagedError, StoreError
from kpi_logic.sql import sandboxed_connection
from kpi_logic.store.files import (
    _DAMAGE_WORDS,
    REPO_DATA_DIR,
    _fingerprint,
    store_path_from_env,
    upload_dir_for,
)
from kpi_logic.store.postgres import Postgres, export_table, import_table

SCHEMA_VERSION = 3

_SCHEMA = (  # version 1; the migrations below bring it up to SCHEMA_VERSION
    "CREATE SEQUENCE IF NOT EXISTS row_seq",
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS datasets (
        id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, source_name VARCHAR NOT NULL,
        table_name VARCHAR NOT NULL UNIQUE, rows BIGINT NOT NULL, content_hash VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL, seq BIGINT NOT NULL DEFAULT nextval('row_seq'))""",
    """CREATE TABLE IF NOT EXISTS kpi_sets (
        id VARCHAR PRIMARY KEY, dataset_id VARCHAR NOT NULL, name VARCHAR NOT NULL,
        yaml_text VARCHAR NOT NULL, author VARCHAR NOT NULL, version INTEGER NOT NULL,
        created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL,
        seq BIGINT NOT NULL DEFAULT nextval('row_seq'))""",
    """CREATE TABLE IF NOT EXISTS history (
        kpi_set_id VARCHAR NOT NULL, version INTEGER NOT NULL, changed_at TIMESTAMP NOT NULL,
        author VARCHAR NOT NULL, summary VARCHAR NOT NULL, before_yaml VARCHAR NOT NULL,
        after_yaml VARCHAR NOT NULL, PRIMARY KEY (kpi_set_id, version))""",
    """CREATE TABLE IF NOT EXISTS views (
        id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, state VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL,
        seq BIGINT NOT NULL DEFAULT nextval('row_seq'))""",
    """CREATE TABLE IF NOT EXISTS notes (
        id VARCHAR PRIMARY KEY, kpi_set_id VARCHAR NOT NULL, kpi_name VARCHAR NOT NULL,
        author VARCHAR NOT NULL, text VARCHAR NOT NULL, status VARCHAR,
        created_at TIMESTAMP NOT NULL, seq BIGINT NOT NULL DEFAULT nextval('row_seq'))""",
    # a dataset that is a live table of another engine (its table here holds no rows); made
    # at every open like the rest, so a store of any version gets it without a migration
    """CREATE TABLE IF NOT EXISTS live_tables (
        dataset_id VARCHAR PRIMARY KEY, connection VARCHAR NOT NULL, schema_name VARCHAR,
        table_name VARCHAR NOT NULL, refreshed_at TIMESTAMP NOT NULL)""",
)

# Statements that bring a store from the version before the key to the key's version. Plain
# SQL that DuckDB and PostgreSQL both read.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (  # dataset versions: every upload, replacement, append and restore of a dataset
        "ALTER TABLE datasets ADD COLUMN version INTEGER DEFAULT 1",
        """CREATE TABLE dataset_versions (
            dataset_id VARCHAR NOT NULL, version INTEGER NOT NULL, table_name VARCHAR NOT NULL,
            source_name VARCHAR NOT NULL, rows BIGINT NOT NULL, content_hash VARCHAR NOT NULL,
            author VARCHAR NOT NULL, summary VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (dataset_id, version))""",
        """CREATE TABLE dataset_history (
            dataset_id VARCHAR NOT NULL, changed_at TIMESTAMP NOT NULL, author VARCHAR NOT NULL,
            summary VARCHAR NOT NULL, seq BIGINT NOT NULL DEFAULT nextval('row_seq'))""",
        "UPDATE datasets SET version = 1",
        """INSERT INTO dataset_versions SELECT id, 1, table_name, source_name, rows,
            content_hash, '', 'Uploaded ' || source_name, created_at FROM datasets""",
        """INSERT INTO dataset_history (dataset_id, changed_at, author, summary)
            SELECT id, created_at, '', 'Version 1: uploaded ' || source_name FROM datasets""",
    ),
    3: (  # a check-in note may be tied to a period (its first day)
        "ALTER TABLE notes ADD COLUMN IF NOT EXISTS period DATE",
    ),
}


# With PostgreSQL, the DuckDB file keeps only tables, and which content each holds.
_LOCAL_TABLES = (
    "CREATE TABLE IF NOT EXISTS _kpi_local (table_name VARCHAR PRIMARY KEY, "
    "content_hash VARCHAR NOT NULL)"
)


def migrate(db: Any, where: str) -> None:
    """Create the version-1 tables if missing and apply each migration the store at ``where``
    lacks, on ``db`` (a DuckDB cursor or the PostgreSQL adapter) inside the caller's
    transaction; a store written by a newer version of the app is refused."""
    for statement in _SCHEMA:
        db.execute(statement)
    row = db.execute("SELECT max(version) FROM schema_version").fetchone()
    if row is None or row[0] is None:
        db.execute("INSERT INTO schema_version VALUES (?)", [1])
        found = 1
    else:
        found = int(row[0])
    if found > SCHEMA_VERSION:
        raise StoreError(f"The saved data in {where} was written by a newer version of this app.")
    for version in range(found + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[version]:
            db.execute(statement)
        db.execute("UPDATE schema_version SET version = ?", [version])


def _chain(err: BaseException) -> Iterator[BaseException]:
    """``err`` and the errors it was raised from or while handling."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_disk_full(err: BaseException) -> bool:
    """True if ``err`` (or an error it came from) says the disk or the user's quota is full."""
    for cause in _chain(err):
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(cause) or "Disk quota exceeded" in str(cause):
            return True
    return False


def _invalidated(err: BaseException) -> bool:
    """True if ``err`` (or an error it came from) is DuckDB's fatal error, after which the
    database refuses every query until it is reopened."""
    return any(isinstance(cause, duckdb.FatalException) for cause in _chain(err))


class StoreConnection:
    """The part of :class:`~kpi_logic.store.Store` that keeps its connection: opening the
    store file (and its schema), cursors, one transaction per write, lists cached until the
    next write, and reopening after a fatal error."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        url: str | None = None,
        allowed_dirs: Sequence[str | os.PathLike[str]] | None = None,
        memory_limit: str | None = None,
        temp_dir: str | os.PathLike[str] | None = None,
        threads: int | None = None,
    ) -> None:
        """Open (creating if needed) the store at ``path`` (default :func:`store_path_from_env`).

        With ``url`` (``postgresql://...``) everything is saved in that PostgreSQL database
        (see :mod:`kpi_logic.store.postgres`) and the DuckDB file at ``path`` only computes:
        the tables it lacks are made again from the database.

        ``allowed_dirs`` are the only folders queries may read (default: ``<data folder>/uploads``
        and the repository's ``data/``); spill files go to ``temp_dir`` (default
        ``<store folder>/tmp``).
        """
        self.path = Path(path) if path is not None else store_path_from_env()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if allowed_dirs is None:
            allowed_dirs = [upload_dir_for(self.path), REPO_DATA_DIR]
        self.url = url
        self.exchange_dir = self.path.parent / "exchange"  # Parquet on its way to PostgreSQL
        self._pg = Postgres(url) if url is not None else None
        if self._pg is not None:
            allowed_dirs = [*allowed_dirs, self.exchange_dir]
        self._local: dict[str, str] = {}  # table -> content hash made locally (PostgreSQL)
        self._local_lock = threading.Lock()
        self._settings: dict[str, Any] = {
            "allowed_dirs": allowed_dirs,
            "memory_limit": memory_limit,
            "temp_dir": temp_dir if temp_dir is not None else self.path.parent / "tmp",
            "threads": threads,
        }
        self.generation = 0  # how many times the connection was reopened (see recover)
        self._reopen_lock = threading.Lock()
        self._writes = 0  # writes ended through this Store
        self._writes_lock = threading.Lock()
        self._lists: dict[tuple[str, ...], tuple[int, list[tuple]]] = {}
        try:
            self._con = self._connect()
        except BaseException:
            self.close_team_store()
            raise
        try:
            self._create_schema()
        except duckdb.Error as err:
            self.close()
            raise self._open_error(err) from err
        except BaseException:
            self.close()
            raise

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """A new sandboxed connection to the store file."""
        try:
            return sandboxed_connection(str(self.path), **self._settings)
        except duckdb.Error as err:
            raise self._open_error(err) from err

    def _open_error(self, err: duckdb.Error) -> StoreError:
        """The error to show when the store file could not be opened."""
        text = str(err)
        if any(words in text for words in _DAMAGE_WORDS):
            return StoreDamagedError(str(self.path), _fingerprint(self.path))
        if isinstance(err, duckdb.IOException) and "lock" in text.lower():
            reason = "it is in use by another program"
        else:  # e.g. already open in this process with other settings
            reason = text.splitlines()[0]
        return StoreError(f"The saved data in {self.path} cannot be opened: {reason}.")

    def _create_schema(self) -> None:
        """Create the tables of a new store, then apply the migrations it has not had, all in
        one transaction (two processes starting at once: the second one waits or retries)."""
        cur = self.cursor()
        if self._pg is not None:
            self._pg.create_schema(migrate, self._pg.where)
            cur.execute(_LOCAL_TABLES)
            return
        with self._write(cur) as db:
            migrate(db, str(self.path))

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on the shared connection: one per session or thread. Cursors taken
        before a reopen (see :attr:`generation`) are closed: take a new one then."""
        try:
            return self._con.cursor()
        except duckdb.ConnectionException:  # closed by a reopen that failed: try again
            self._reopen()
            return self._con.cursor()

    def recover(self, err: BaseException) -> StoreError | None:
        """Make the store usable again after ``err`` and say what to tell the user.

        A fatal DuckDB error (e.g. a checkpoint on a full disk) invalidates the database for
        every session: the connection is then reopened (cursors taken before are closed;
        :attr:`generation` counts the reopens). Returns a :class:`DiskFullError` when the disk
        is full, a StoreError when the store had to be reopened, None for other errors.
        """
        invalidated = _invalidated(err)
        if invalidated:
            self._reopen()
        if is_disk_full(err):
            return DiskFullError()
        if invalidated:
            return StoreError(
                "Writing to the disk failed, so this was not saved; the saved data was reopened "
                "and is usable again. Please try again."
            )
        return None

    def _reopen(self) -> None:
        """Reopen the connection unless it works (another session may have reopened it)."""
        with self._reopen_lock:
            try:
                with self._con.cursor() as probe:
                    probe.execute("SELECT 1").fetchall()
                return
            except duckdb.Error:
                pass
            with suppress(duckdb.Error):
                self._con.close()
            self._con = self._connect()
            self.generation += 1
            with self._writes_lock:
                self._writes += 1  # lists are read again from the reopened store

    def _db(self, cur: duckdb.DuckDBPyConnection) -> Any:
        """Where the store's records are read: the DuckDB cursor itself (embedded store), or
        the PostgreSQL pool (in this thread's transaction while it is in one)."""
        return cur if self._pg is None else self._pg

    @contextmanager
    def _write(self, cur: duckdb.DuckDBPyConnection) -> Iterator[Any]:
        """Run the block as one transaction and yield where the records are written (see
        :meth:`_db`). With PostgreSQL, its transaction runs inside one of the DuckDB file
        (which holds the tables): both commit, or neither."""
        if self._pg is None:
            with self._duck_write(cur) as db:
                yield db
            return
        with self._duck_write(cur):
            try:
                with self._pg.transaction() as db:
                    yield db
            except psycopg.errors.IntegrityError as err:
                raise StoreError(
                    "Someone else saved a change at the same moment; please try again."
                ) from err
            except psycopg.Error as err:
                raise StoreError(
                    f"The team store {self._pg.where} did not save this: "
                    f"{str(err).strip().splitlines()[-1]}. Please try again."
                ) from err

    @contextmanager
    def _duck_write(self, cur: duckdb.DuckDBPyConnection) -> Iterator[Any]:
        """Run the block as one DuckDB transaction: commit at the end, roll back on any error;
        the cached lists are stale once it ends (a list read meanwhile is counted before it)."""
        try:
            cur.execute("BEGIN TRANSACTION")
        except (duckdb.FatalException, duckdb.ConnectionException) as err:  # see recover
            raise self.recover(err) or StoreError(
                "The saved data was reopened meanwhile, so this was not saved; please try again."
            ) from err
        try:
            yield cur
            try:
                cur.execute("COMMIT")
            except duckdb.FatalException as err:
                if "COMMIT succeeded" not in str(err):
                    raise
                self.recover(err)  # the change is durable; only the checkpoint after it failed
        except BaseException as err:
            with suppress(duckdb.Error):  # a failed COMMIT has already ended the transaction
                cur.execute("ROLLBACK")
            problem = self.recover(err) if isinstance(err, duckdb.Error | OSError) else None
            if problem is not None:
                raise problem from err
            if isinstance(err, duckdb.TransactionException) and "Could not write" not in str(err):
                raise StoreError(
                    "Someone else saved a change at the same moment; please try again."
                ) from err
            if isinstance(err, duckdb.TransactionException | duckdb.IOException):
                raise StoreError(
                    "The change could not be written to disk; please try again."
                ) from err
            raise
        finally:
            with self._writes_lock:
                self._writes += 1

    def _listed(
        self, cur: duckdb.DuckDBPyConnection, key: tuple[str, ...], query: str, params: list[Any]
    ) -> list[tuple]:
        """The rows of a listing query, from memory when no write has ended since (never
        with PostgreSQL: other processes write there too)."""
        if self._pg is not None:
            return self._pg.execute(query, params).fetchall()
        writes = self._writes  # read before the query: a write meanwhile makes it stale
        cached = self._lists.get(key)
        if cached is not None and cached[0] == writes:
            return cached[1]
        rows = self._db(cur).execute(query, params).fetchall()
        self._lists[key] = (writes, rows)
        return rows

    def close(self) -> None:
        """Close the connection (and every cursor taken from it)."""
        self._con.close()
        self.close_team_store()

    def close_team_store(self) -> None:
        """Close the PostgreSQL connections, if any."""
        if self._pg is not None:
            self._pg.close()

    def schema_version(self, cur: duckdb.DuckDBPyConnection) -> int:
        """The schema version of the saved data."""
        row = self._db(cur).execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def _saved_table(self, cur: duckdb.DuckDBPyConnection, db: Any, table: str) -> None:
        """With PostgreSQL: save ``table`` and its rejects there as Parquet (in the caller's
        transaction), at the content hash its version row has now."""
        if self._pg is None:
            return
        found = db.execute(
            "SELECT content_hash FROM dataset_versions WHERE table_name = ?", [table]
        ).fetchone()
        rejects = table + "_rejects"
        has_rejects = cur.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [rejects]
        ).fetchone()
        self.save_table_data(
            db,
            table,
            found[0],
            export_table(cur, table, self.exchange_dir),
            export_table(cur, rejects, self.exchange_dir)
            if has_rejects and has_rejects[0]
            else None,
        )
        cur.execute("INSERT OR REPLACE INTO _kpi_local VALUES (?, ?)", [table, found[0]])
        self._local[table] = found[0]

    def save_table_data(
        self, db: Any, table: str, content_hash: str, data: bytes, rejects: bytes | None
    ) -> None:
        """Save a table's rows (and its rejects) as Parquet bytes in the team store, in the
        transaction of ``db``."""
        db.execute(
            "INSERT INTO dataset_data (table_name, content_hash, data, rejects) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (table_name) DO UPDATE SET "
            "content_hash = EXCLUDED.content_hash, data = EXCLUDED.data, "
            "rejects = EXCLUDED.rejects",
            [table, content_hash, data, rejects],
        )

    def _forget_tables(self, db: Any, tables: list[str]) -> None:
        """With PostgreSQL: delete the data of ``tables`` there."""
        for table in tables if self._pg is not None else []:
            db.execute("DELETE FROM dataset_data WHERE table_name = ?", [table])

    def ensure_local(self, cur: duckdb.DuckDBPyConnection, table: str, content_hash: str) -> None:
        """Make sure DuckDB holds ``table`` at ``content_hash``: with PostgreSQL, a table this
        disk lacks (e.g. a new container) or holds at another content is made again from its
        Parquet bytes. Nothing to do for the embedded store."""
        if self._pg is None or self._local.get(table) == content_hash:
            return
        with self._local_lock:
            row = cur.execute(
                "SELECT l.content_hash FROM _kpi_local l JOIN duckdb_tables() t "
                "ON t.table_name = l.table_name WHERE l.table_name = ?",
                [table],
            ).fetchone()
            if row is None or row[0] != content_hash:
                saved = self._pg.execute(
                    "SELECT content_hash, data, rejects FROM dataset_data WHERE table_name = ?",
                    [table],
                ).fetchone()
                if saved is None:
                    raise StoreError("The data of this dataset is missing from the team store.")
                import_table(cur, table, bytes(saved[1]), self.exchange_dir)
                if saved[2] is not None:
                    import_table(cur, table + "_rejects", bytes(saved[2]), self.exchange_dir)
                cur.execute("INSERT OR REPLACE INTO _kpi_local VALUES (?, ?)", [table, saved[0]])
            self._local[table] = content_hash

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
