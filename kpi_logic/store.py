"""Persistent store for datasets, KPI sets and their history, saved views and notes.

One :class:`Store` (one DuckDB connection) per process; every session or thread takes its own
``store.cursor()`` and passes it to each call. Every save is a single transaction, so a crash
leaves either the whole change or none of it. Ids are ``secrets.token_urlsafe(16)`` (128 random
bits), safe to put in links; every id is checked against :data:`ID_RE` before it reaches SQL,
and every value is a bound parameter.

>>> store = Store("store/kpi_store.duckdb")            # doctest: +SKIP
>>> cur = store.cursor()                                # doctest: +SKIP
>>> view_id = store.save_view(cur, "West, 2017", {"ds": "..."})  # doctest: +SKIP
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from kpi_logic.errors import DiskFullError, StoreDamagedError, StoreError
from kpi_logic.sql import quote_ident, sandboxed_connection

SCHEMA_VERSION = 1
ID_RE = re.compile(r"[A-Za-z0-9_-]{22}")
TABLE_RE = re.compile(r"ds_[0-9a-f]{32}")
REJECTS_SUFFIX = "_rejects"
# Tables a crashed load can leave behind: a dataset table or its rejects without a datasets
# row (made by new_table_name, also retype's staging tables) and ingest's own work tables.
_ORPHAN_RE = re.compile(rf"(?:(ds_[0-9a-f]{{32}})(?:{REJECTS_SUFFIX})?|__kpi_ingest_[0-9a-f]+)")
MAX_NAME_CHARS = 200
MAX_NOTE_CHARS = 10_000
MAX_SUMMARY_CHARS = 2_000
MAX_YAML_CHARS = 1_000_000
MAX_STATE_CHARS = 100_000
REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "data"

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
)


@dataclass(frozen=True)
class Dataset:
    """Metadata of an ingested table (timestamps are UTC)."""

    id: str
    name: str
    source_name: str
    table: str
    rows: int
    content_hash: str
    created_at: datetime


@dataclass(frozen=True)
class KPISet:
    """A KPI YAML file attached to a dataset; ``version`` counts its updates."""

    id: str
    dataset_id: str
    name: str
    yaml_text: str
    author: str
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    """One update of a KPI set: who, when, why, and the YAML before and after."""

    kpi_set_id: str
    version: int
    changed_at: datetime
    author: str
    summary: str
    before_yaml: str
    after_yaml: str


@dataclass(frozen=True)
class View:
    """A named, saved view state (a JSON object)."""

    id: str
    name: str
    state: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Note:
    """A comment on one KPI of a KPI set, with an optional status label."""

    id: str
    kpi_set_id: str
    kpi_name: str
    author: str
    text: str
    status: str | None
    created_at: datetime


_DATASET_COLS = "id, name, source_name, table_name, rows, content_hash, created_at"
_KPI_SET_COLS = "id, dataset_id, name, yaml_text, author, version, created_at, updated_at"
_HISTORY_COLS = "kpi_set_id, version, changed_at, author, summary, before_yaml, after_yaml"
_VIEW_COLS = "id, name, state, created_at, updated_at"
_NOTE_COLS = "id, kpi_set_id, kpi_name, author, text, status, created_at"


def data_dir_from_env() -> Path:
    """The data folder: env ``KPI_DATA_DIR``, else ``./store``."""
    return Path(os.environ.get("KPI_DATA_DIR") or "store")


def store_path_from_env() -> Path:
    """The store file: env ``KPI_STORE``, else ``<data folder>/kpi_store.duckdb``."""
    env = os.environ.get("KPI_STORE")
    return Path(env) if env else data_dir_from_env() / "kpi_store.duckdb"


def upload_dir_for(store_path: str | os.PathLike[str]) -> Path:
    """The uploads folder of the store at ``store_path``: ``uploads`` beside the store file."""
    return Path(store_path).parent / "uploads"


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


# What DuckDB says when the store file is not a (whole) database: never a lock or a setting.
_DAMAGE_WORDS = (
    "not a valid DuckDB database file",
    "Corrupt database file",
    "Could not read enough bytes",
)


def _fingerprint(path: Path) -> tuple[int, int, int]:
    info = path.stat()
    return info.st_ino, info.st_size, info.st_mtime_ns


def set_aside(damaged: StoreDamagedError) -> Path | None:
    """Rename a damaged store file (and its write-ahead log) to
    ``<name>.damaged-<UTC time><suffix>`` beside it, so a new store can start at its path;
    return the new name. None when the file is no longer the one found damaged (someone
    already set it aside and a new store was started): nothing is moved then."""
    path = Path(damaged.path)
    try:
        if _fingerprint(path) != damaged.fingerprint:
            return None
    except FileNotFoundError:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.stem}.damaged-{stamp}{path.suffix}")
    number = 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.stem}.damaged-{stamp}-{number}{path.suffix}")
    path.rename(target)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        wal.rename(target.with_name(target.name + ".wal"))
    return target


def new_id() -> str:
    """A fresh random id: 22 url-safe characters, 128 bits."""
    return secrets.token_urlsafe(16)


def new_table_name() -> str:
    """A fresh name for a dataset table, ``ds_`` + 32 hex digits."""
    return "ds_" + secrets.token_hex(16)


def is_valid_id(value: object) -> bool:
    """True if ``value`` has the shape of an id made by :func:`new_id`."""
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None


def _check_id(value: object, what: str) -> None:
    if not is_valid_id(value):
        raise StoreError(f"This link to a {what} is broken: the id is not valid.")


def _check_text(value: object, what: str, limit: int, *, required: bool = True) -> None:
    if not isinstance(value, str):
        raise StoreError(f"The {what} must be text.")
    if required and not value.strip():
        raise StoreError(f"The {what} cannot be empty.")
    if len(value) > limit:
        raise StoreError(f"The {what} is too long ({len(value):,} characters, at most {limit:,}).")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Store:
    """One sandboxed DuckDB connection to the store file; take a cursor per session.

    The lists of datasets and of KPI sets are kept in memory until the next write through
    this Store (the app keeps one Store per store file per process), so a rerun lists them
    without a query; write through the Store only.
    """

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

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
            for table in (dataset.table, dataset.table + REJECTS_SUFFIX):
                cur.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")
        return dataset

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


def _state_json(state: dict[str, Any]) -> str:
    """Serialise a view state to JSON text, refusing non-JSON values and oversize states."""
    if not isinstance(state, dict):
        raise StoreError("A view can only be saved from a dictionary of settings.")
    try:
        text = json.dumps(state, allow_nan=False, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as err:
        raise StoreError(f"This view cannot be saved: {err}.") from err
    if len(text) > MAX_STATE_CHARS:
        raise StoreError("This view has too many settings to be saved.")
    return text


def _view(row: tuple[Any, ...]) -> View:
    view_id, name, state, created_at, updated_at = row
    return View(view_id, name, json.loads(state), created_at, updated_at)
