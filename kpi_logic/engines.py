"""KPIs computed where the data lives: a live table of PostgreSQL or Spark SQL.

An ``Engine`` runs the engine's own aggregate queries (:func:`kpi_logic.compute.aggregate_sql`,
DuckDB SQL rendered in the engine's dialect by :mod:`kpi_logic.dialects`) where the table is,
and only the aggregates come back: one row per category x period of each group of KPIs.
:func:`aggregate_records` returns the same records as ``compute.aggregate_records`` does for
an upload. Uploads stay in DuckDB (:mod:`kpi_logic.compute`).

``connect(url)`` opens ``postgresql://...`` (psycopg; the session is read-only),
``spark://local`` (a Spark session in this process), ``spark://HOST:PORT`` (a standalone
Spark master) or ``sc://HOST:PORT`` (Spark Connect; needs ``pyspark[connect]``).
"""

from __future__ import annotations

import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from kpi_logic import compute
from kpi_logic.dialects import TableRef, duckdb_type, render
from kpi_logic.errors import ComputeError, DataReadError, KPIDefinitionError, KPIExplorerError
from kpi_logic.ingest_types import logical_type
from kpi_logic.model import KPI
from kpi_logic.sql import quote_ident

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Rows = tuple[list[str], list[tuple]]
_PROFILED = ("number", "integer", "date", "datetime", "text")  # types every engine orders


class Engine(ABC):
    """Where a live table is: runs queries written in DuckDB SQL, rendered in ``dialect``."""

    dialect: str
    label: str  # what messages call the engine, without a password

    @abstractmethod
    def run(self, sql: str) -> Rows:
        """Column names and rows of one query in the engine's own SQL."""

    @abstractmethod
    def columns(self, table: TableRef) -> dict[str, str]:
        """Column name -> DuckDB's name for its type, in the table's order."""

    @abstractmethod
    def tables(self) -> list[TableRef]:
        """The tables and views a user may pick, by schema and name."""

    @abstractmethod
    def close(self) -> None:
        """Let go of the connection (a Spark session only if ``connect`` started it)."""

    def query(self, sql: str, params: Sequence[object], table: TableRef, what: str) -> Rows:
        """Run one engine query (DuckDB SQL, ``?`` values) over ``table``; a failure becomes
        a ``KPIExplorerError`` saying ``what`` could not be computed."""
        rendered = render(sql, params, self.dialect, table)
        try:
            return self.run(rendered)
        except KPIExplorerError:
            raise
        except Exception as err:  # each driver has its own errors; one line for the user
            raise self.error(err, what) from err

    def error(self, err: Exception, what: str) -> KPIExplorerError:
        """A driver's error as one line saying what could not be computed."""
        return KPIDefinitionError(f"{what} could not be computed in {self.label}: {_first(err)}")

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PostgresEngine(Engine):
    """A PostgreSQL database through psycopg; the session is read-only and reads strings as
    the SQL standard writes them (``standard_conforming_strings``)."""

    dialect = "postgres"

    def __init__(self, url: str) -> None:
        self.label = f"PostgreSQL at {_where(url)}"
        self._url = url
        self._con = self._connect()

    def _connect(self) -> Any:
        import psycopg

        try:
            con = psycopg.connect(self._url, autocommit=True, connect_timeout=10)
        except psycopg.Error as err:
            raise ComputeError(f"Could not connect to {self.label}: {_first(err)}") from err
        con.execute("SET default_transaction_read_only = on")
        con.execute("SET standard_conforming_strings = on")
        return con

    def _rows(self, sql: str | bytes, params: Sequence[object] | None = None) -> Rows:
        """Column names and rows of one statement; a connection the server dropped (a restart,
        an idle timeout) is opened again and the statement run once more."""
        import psycopg

        try:
            return self._once(sql, params)
        except psycopg.OperationalError:
            if not (self._con.closed or self._con.broken):
                raise
        return self._once(sql, params)

    def _once(self, sql: str | bytes, params: Sequence[object] | None) -> Rows:
        if self._con.closed or self._con.broken:
            self._con = self._connect()
        with self._con.cursor() as cursor:
            cursor.execute(sql, params)
            return [d.name for d in cursor.description or []], cursor.fetchall()

    def run(self, sql: str) -> Rows:
        """The query runs as written: no parameters, so psycopg reads no ``%`` in it."""
        return self._rows(sql.encode("utf-8"))

    def columns(self, table: TableRef) -> dict[str, str]:
        """Columns from the catalog (``format_type`` of each), names and schema bound."""
        try:
            _, rows = self._rows(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = coalesce(%s, current_schema()) AND c.relname = %s"
                " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                [table.schema, table.name],
            )
        except Exception as err:  # the catalog could not be read: one line
            raise self.error(err, f"The columns of {table}") from err
        if not rows:
            raise KPIExplorerError(f"There is no table {str(table)!r} in {self.label}.")
        return {name: duckdb_type(sql_type, self.dialect) for name, sql_type in rows}

    def tables(self) -> list[TableRef]:
        """Tables and views outside PostgreSQL's own schemas."""
        try:
            _, rows = self._rows(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema"
                " NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
            )
        except Exception as err:
            raise self.error(err, "The list of tables") from err
        return [TableRef(name, schema) for schema, name in rows]

    def error(self, err: Exception, what: str) -> KPIExplorerError:
        import psycopg

        reason = f"{what} could not be computed in {self.label}: {_first(err)}"
        if isinstance(err, psycopg.DataError):
            return DataReadError(reason)
        if isinstance(err, psycopg.OperationalError):
            return ComputeError(f"{reason}; try again later")
        return KPIDefinitionError(reason)

    def close(self) -> None:
        self._con.close()


class SparkEngine(Engine):
    """A Spark SQL session: local in this process, a cluster's, or Spark Connect's."""

    dialect = "spark"

    def __init__(self, session: SparkSession, label: str = "Spark", *, owned: bool = False):
        self.session, self.label, self._owned = session, label, owned

    def run(self, sql: str) -> Rows:
        frame = self.session.sql(sql)
        return list(frame.columns), [tuple(row) for row in frame.collect()]

    def columns(self, table: TableRef) -> dict[str, str]:
        """Columns of the table's schema (Spark analyses the query without running it)."""
        try:
            frame = self.session.sql(render('SELECT * FROM "t"', [], self.dialect, table))
            fields = frame.schema.fields
        except Exception as err:  # AnalysisException: no such table
            raise KPIExplorerError(f"{str(table)!r} in {self.label}: {_first(err)}") from err
        return {f.name: duckdb_type(f.dataType.simpleString(), self.dialect) for f in fields}

    def tables(self) -> list[TableRef]:
        """Tables and views of every database of the session's catalog."""
        catalog = self.session.catalog
        return [
            TableRef(t.name, None if t.isTemporary else database.name)
            for database in catalog.listDatabases()
            for t in catalog.listTables(database.name)
        ]

    def close(self) -> None:
        """Stop the session if ``connect`` started it (one given to us is left running)."""
        if self._owned:
            self.session.stop()


def connect(url: str) -> Engine:
    """The engine at ``url``: ``postgresql://``/``postgres://``, ``spark://local``,
    ``spark://HOST:PORT`` or ``sc://HOST:PORT``."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        return PostgresEngine(url)
    if scheme in ("spark", "sc"):
        owned = not _running_spark()
        return SparkEngine(_spark_session(url), f"Spark at {_where(url)}", owned=owned)
    raise KPIExplorerError(
        f"{_where(url)}: not a database address (postgresql://..., spark://local, "
        "spark://HOST:PORT or sc://HOST:PORT)"
    )


def _spark_session(url: str) -> SparkSession:
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:
        raise KPIExplorerError("Spark needs pyspark: pip install pyspark") from err
    builder = SparkSession.builder.appName("kpi-explorer")
    try:
        if url.lower().startswith("sc://"):
            return builder.remote(url).getOrCreate()
        builder = builder.config("spark.ui.enabled", "false")
        builder = builder.config("spark.ui.showConsoleProgress", "false")
        if url.lower() == "spark://local":  # a few partitions suit one machine's cores
            builder = builder.master("local[*]").config("spark.sql.shuffle.partitions", "8")
        else:
            builder = builder.master(url)
        return builder.getOrCreate()
    except Exception as err:  # no Java, no cluster: one line
        raise ComputeError(f"Could not start Spark at {_where(url)}: {_first(err)}") from err


def _running_spark() -> bool:
    """Whether this process already has a Spark session (``connect`` then uses it and
    leaves it running)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return False
    return SparkSession.getActiveSession() is not None


def url_from_settings(settings: Mapping[str, Any]) -> str:
    """A connection's URL from Streamlit's ``[connections.NAME]`` convention: ``url``, or
    ``dialect`` (``postgresql``), ``host``, ``port``, ``database``, ``username``,
    ``password``.

    >>> url_from_settings({"dialect": "postgresql", "host": "db", "database": "shop",
    ...                    "username": "me", "password": "p@ss"})
    'postgresql://me:p%40ss@db/shop'
    """
    if settings.get("url"):
        return str(settings["url"])
    dialect = str(settings.get("dialect") or "postgresql")
    user = urllib.parse.quote(str(settings.get("username") or ""), safe="")
    password = urllib.parse.quote(str(settings.get("password") or ""), safe="")
    login = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{int(settings['port'])}" if settings.get("port") else ""
    database = urllib.parse.quote(str(settings.get("database") or ""), safe="")
    return f"{dialect}://{login}{settings.get('host') or 'localhost'}{port}/{database}"


def aggregate_records(
    engine: Engine,
    table: TableRef,
    kpis: Sequence[KPI],
    *,
    start: date | None = None,
    end: date | None = None,
    categories: compute.Categories | None = None,
    whole: bool = False,
    totals: bool = True,
) -> list[compute.Record]:
    """``compute.aggregate_records`` for a live table: the same records, computed by the
    engine; only the aggregate rows travel (``whole``: the days from ``start`` to ``end`` as
    one period, a time window; ``totals=False``: no all-categories rows)."""

    def fetch(sql: str, params: list, names: str) -> Rows:
        return engine.query(sql, params, table, f"KPI {names}")

    columns = engine.columns(table)
    return compute.records_over(
        fetch,
        columns,
        table.name,
        kpis,
        start=start,
        end=end,
        categories=categories,
        whole=whole,
        totals=totals,
    )


def profile(
    engine: Engine, table: TableRef, *, distinct: bool = True
) -> tuple[int, list[dict[str, object]]]:
    """The table's rows now, and one record per column (``column, type, nulls, distinct,
    min, max``): our type, empty cells, distinct values, smallest and largest value as text;
    one query computed by the engine. Columns of other types (JSON, arrays...) get their
    empty cells only; ``distinct=False`` leaves the distinct counts out (None): they sort
    every column."""
    columns = engine.columns(table)
    parts = ["count(*)"]
    for name, sql_type in columns.items():
        col = quote_ident(name)
        parts.append(f"count(*) - count({col})")
        if logical_type(sql_type) in _PROFILED:
            parts += [
                f"count(DISTINCT {col})" if distinct else "NULL",
                f"CAST(min({col}) AS VARCHAR)",
                f"CAST(max({col}) AS VARCHAR)",
            ]
        else:
            parts += ["NULL", "NULL", "NULL"]
    sql = f"SELECT {', '.join(parts)} FROM {quote_ident(table.name)}"
    _, rows = engine.query(sql, [], table, f"The profile of {table}")
    values = rows[0]
    return int(values[0]), [
        {
            "column": name,
            "type": logical_type(sql_type),
            "nulls": values[1 + 4 * i],
            "distinct": values[2 + 4 * i],
            "min": values[3 + 4 * i],
            "max": values[4 + 4 * i],
        }
        for i, (name, sql_type) in enumerate(columns.items())
    ]


def row_count(engine: Engine, table: TableRef) -> int:
    """The table's rows, counted by the engine."""
    sql = f"SELECT count(*) FROM {quote_ident(table.name)}"
    _, rows = engine.query(sql, [], table, f"The row count of {table}")
    return int(rows[0][0])


def date_span(engine: Engine, table: TableRef, column: str) -> tuple[date, date] | None:
    """The first and last day in a date column of a live table, None when it holds none."""
    col = quote_ident(column)
    source = quote_ident(table.name)
    sql = f"SELECT CAST(min({col}) AS DATE), CAST(max({col}) AS DATE) FROM {source}"
    _, rows = engine.query(sql, [], table, f"The dates of {table}")
    return None if not rows or rows[0][0] is None else (rows[0][0], rows[0][1])


def category_values(engine: Engine, table: TableRef, column: str, limit: int) -> list[str]:
    """The distinct values of a live table's column as the engine writes them as text (as its
    aggregates name categories), sorted, at most ``limit``."""
    col = quote_ident(column)
    sql = (
        f"SELECT DISTINCT CAST({col} AS VARCHAR) AS v FROM {quote_ident(table.name)} "
        f"WHERE {col} IS NOT NULL ORDER BY v LIMIT ?"
    )
    _, rows = engine.query(sql, [int(limit)], table, f"The values of {column}")
    return [row[0] for row in rows]


def _where(url: str) -> str:
    """``url`` without its user and password: what messages may show."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "that address"
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def _first(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
