"""The team store in PostgreSQL: every record the app saves, and each dataset table's data
as Parquet bytes, so an app started on an empty disk has it all back.

DuckDB stays the engine that computes: a dataset table missing from (or out of date in) the
local DuckDB file is made again from its Parquet bytes on first use. Connections come from a
small pool (psycopg 3); every save is one transaction on one connection.
"""

from __future__ import annotations

import queue
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import psycopg

from kpi_logic.errors import StoreError
from kpi_logic.sql import quote_ident

URL_SCHEMES = ("postgresql", "postgres")
POOL_SIZE = 8  # idle connections kept; more are opened while many sessions save at once

# Tables only the PostgreSQL store has (after the shared migrations).
_PG_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS dataset_data (
        table_name VARCHAR PRIMARY KEY, content_hash VARCHAR NOT NULL, data BYTEA NOT NULL,
        rejects BYTEA)""",
)
_LOCK_KEY = 7_264_811  # advisory lock: one process at a time creates or migrates the schema


def is_url(location: object) -> bool:
    """True if ``location`` names a PostgreSQL database (``postgresql://...``)."""
    return isinstance(location, str) and urlsplit(location).scheme in URL_SCHEMES


def describe(url: str) -> str:
    """The database of ``url`` for a message: host, port and name, never the password.

    >>> describe("postgresql://ann:secret@db.example:5433/kpis")
    'db.example:5433/kpis'
    """
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}{parts.path or '/'}".replace("//", "/")


class _Rows:
    """A finished query's rows (the connection is back in the pool already)."""

    def __init__(self, rows: list[tuple]) -> None:
        self._rows = rows

    def fetchone(self) -> tuple | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple]:
        return self._rows


def _first_line(err: BaseException) -> str:
    """The last line of a driver's message (the one that says what happened)."""
    return (str(err).strip().splitlines() or [type(err).__name__])[-1]


def _sql(query: str) -> str:
    """Our ``?`` parameters in psycopg's ``%s`` style (no query of ours holds a ``%``)."""
    return query.replace("?", "%s")


class Bound:
    """Runs the store's SQL on one connection (inside a save's transaction)."""

    def __init__(self, con: psycopg.Connection) -> None:
        self.con = con

    def execute(self, query: str, params: Sequence[Any] = ()) -> _Rows:
        """Run ``query`` with bound ``params``; its rows, read at once."""
        with self.con.cursor() as cur:
            cur.execute(_sql(query), list(params))  # type: ignore[arg-type]
            return _Rows(cur.fetchall() if cur.description else [])


class Postgres:
    """A pool of connections to the team store's database, and its transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = describe(url)
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._bound = threading.local()  # the transaction this thread is in, if any
        self._closed = False
        with self._connection():  # an unreachable database fails here, with a clear message
            pass

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as err:
            raise StoreError(
                f"The team store {self.where} cannot be reached: {_first_line(err)}"
            ) from err

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        try:
            con = self._idle.get_nowait()
        except queue.Empty:
            con = self._connect()
        try:
            yield con
        except BaseException:
            if con.broken or con.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                con.close()  # its state is unknown: never reused
            else:
                self._idle.put(con)
            raise
        if self._closed or con.closed or self._idle.qsize() >= POOL_SIZE:
            con.close()
        else:
            self._idle.put(con)

    @contextmanager
    def transaction(self) -> Iterator[Bound]:
        """One transaction on one connection; this thread's reads meanwhile use it too."""
        with self._connection() as con, con.transaction():
            bound = Bound(con)
            self._bound.current = bound
            try:
                yield bound
            finally:
                self._bound.current = None

    def execute(self, query: str, params: Sequence[Any] = ()) -> _Rows:
        """Run one query: in this thread's transaction if it is in one, else on its own."""
        bound = getattr(self._bound, "current", None)
        if bound is not None:
            return bound.execute(query, params)
        try:
            return self._read(query, params)
        except psycopg.OperationalError:  # e.g. an idle connection the server has closed
            pass
        try:
            return self._read(query, params)
        except psycopg.Error as err:
            raise StoreError(
                f"The team store {self.where} cannot be read: {_first_line(err)}"
            ) from err

    def _read(self, query: str, params: Sequence[Any]) -> _Rows:
        with self._connection() as con:
            return Bound(con).execute(query, params)

    def create_schema(self, migrate: Any, where: str) -> None:
        """Create or migrate the schema (``migrate(db, where)``) and the data table, under an
        advisory lock so that two processes starting at once do it one after the other."""
        with self.transaction() as db:
            db.execute(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
            migrate(db, where)
            for statement in _PG_SCHEMA:
                db.execute(statement)

    def close(self) -> None:
        """Close every idle connection (connections in use close when given back)."""
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def _literal(path: Path) -> str:
    """A file path as a SQL string literal (COPY takes no parameters)."""
    return "'" + str(path).replace("'", "''") + "'"


def export_table(cur: duckdb.DuckDBPyConnection, table: str, folder: Path) -> bytes:
    """The rows of DuckDB table ``table`` as Parquet bytes (written by DuckDB's COPY through
    a file in ``folder``, removed afterwards)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{secrets.token_hex(16)}.parquet"
    try:
        cur.execute(f"COPY {quote_ident(table)} TO {_literal(path)} (FORMAT parquet)")
        return path.read_bytes()
    finally:
        path.unlink(missing_ok=True)


def import_table(cur: duckdb.DuckDBPyConnection, table: str, data: bytes, folder: Path) -> None:
    """Make DuckDB table ``table`` (replacing one of that name) from Parquet bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{secrets.token_hex(16)}.parquet"
    try:
        path.write_bytes(data)
        cur.execute(
            f"CREATE OR REPLACE TABLE {quote_ident(table)} AS "
            f"SELECT * FROM read_parquet({_literal(path)})"
        )
    finally:
        path.unlink(missing_ok=True)
