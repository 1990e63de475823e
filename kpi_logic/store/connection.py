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

from kpi_logic.errors import DiskFullError, StoreDamagedError, StoreError
from kpi_logic.sql import sandboxed_connection
from kpi_logic.store.files import (
    _DAMAGE_WORDS,
    REPO_DATA_DIR,
    _fingerprint,
    store_path_from_env,
    upload_dir_for,
)

SCHEMA_VERSION = 1

_SCHEMA = (
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
    # a dataset that is a live table of another engine (its table here holds no rows)
    """CREATE TABLE IF NOT EXISTS live_tables (
        dataset_id VARCHAR PRIMARY KEY, connection VARCHAR NOT NULL, schema_name VARCHAR,
        table_name VARCHAR NOT NULL, refreshed_at TIMESTAMP NOT NULL)""",
)


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
        allowed_dirs: Sequence[str | os.PathLike[str]] | None = None,
        memory_limit: str | None = None,
        temp_dir: str | os.PathLike[str] | None = None,
        threads: int | None = None,
    ) -> None:
        """Open (creating if needed) the store at ``path`` (default :func:`store_path_from_env`).

        ``allowed_dirs`` are the only folders queries may read (default: ``<data folder>/uploads``
        and the repository's ``data/``); spill files go to ``temp_dir`` (default
        ``<store folder>/tmp``).
        """
        self.path = Path(path) if path is not None else store_path_from_env()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if allowed_dirs is None:
            allowed_dirs = [upload_dir_for(self.path), REPO_DATA_DIR]
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
        self._con = self._connect()
        try:
            self._create_schema()
        except duckdb.Error as err:
            self._con.close()
            raise self._open_error(err) from err
        except BaseException:
            self._con.close()
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
        cur = self.cursor()
        with self._write(cur):
            for statement in _SCHEMA:
                cur.execute(statement)
            row = cur.execute("SELECT max(version) FROM schema_version").fetchone()
            if row is None or row[0] is None:
                cur.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION])
            elif row[0] > SCHEMA_VERSION:
                raise StoreError(
                    f"The saved data in {self.path} was written by a newer version of this app."
                )

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

    @contextmanager
    def _write(self, cur: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """Run the block as one transaction: commit at the end, roll back on any error; the
        cached lists are stale once it ends (a list read meanwhile is counted before it)."""
        try:
            cur.execute("BEGIN TRANSACTION")
        except (duckdb.FatalException, duckdb.ConnectionException) as err:  # see recover
            raise self.recover(err) or StoreError(
                "The saved data was reopened meanwhile, so this was not saved; please try again."
            ) from err
        try:
            yield
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
        """The rows of a listing query, from memory when no write has ended since."""
        writes = self._writes  # read before the query: a write meanwhile makes it stale
        cached = self._lists.get(key)
        if cached is not None and cached[0] == writes:
            return cached[1]
        rows = cur.execute(query, params).fetchall()
        self._lists[key] = (writes, rows)
        return rows

    def close(self) -> None:
        """Close the connection (and every cursor taken from it)."""
        self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
