"""Datasets that are live tables of another engine (PostgreSQL on the Data page).

A live dataset is a row of ``datasets`` like an upload's, linked in ``live_tables`` to the
connection and table where its rows are. Its table in the store is empty and has the live
table's columns under DuckDB's type names, so every rule that reads a dataset's columns (the
KPI builder, KPI checks, links) works unchanged; the figures come from the engine
(:func:`kpi_logic.engines.aggregate_records`), cached for the connection's time-to-live or
until someone presses Refresh.
"""

from __future__ import annotations

import re
import uuid

import duckdb

from kpi_logic import engines
from kpi_logic.dialects import TableRef
from kpi_logic.errors import KPIExplorerError
from kpi_logic.sql import quote_ident
from kpi_logic.store import Dataset, LiveTable, Store, new_table_name

DEFAULT_TTL_SECONDS = 300
DISTINCT_ROWS = 5_000_000  # above this many rows the profile counts no distinct values
# DuckDB type names a live column may take in the store's empty table; anything else is text
_TYPE = re.compile(
    r"BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|FLOAT|DOUBLE|DATE|TIMESTAMP"
    r"|TIMESTAMP WITH TIME ZONE|VARCHAR|DECIMAL\(\d{1,2},\d{1,2}\)"
)


def add_live_dataset(
    store: Store,
    cur: duckdb.DuckDBPyConnection,
    engine: engines.Engine,
    connection: str,
    table: TableRef,
) -> str:
    """A new dataset for the live ``table`` of ``engine`` (reached through the connection
    named ``connection``); returns its id. The engine counts the rows; none are copied."""
    columns = engine.columns(table)
    if not columns:
        raise KPIExplorerError(f"{table} has no columns.")
    rows = engines.row_count(engine, table)
    shadow = new_table_name()
    spec = ", ".join(
        f"{quote_ident(name)} {sql_type if _TYPE.fullmatch(sql_type) else 'VARCHAR'}"
        for name, sql_type in columns.items()
    )
    cur.execute(f"CREATE TABLE {quote_ident(shadow)} ({spec})")
    try:
        dataset_id = store.register_dataset(
            cur, str(table), f"{connection}: {table}", shadow, rows, f"live:{uuid.uuid4().hex}"
        )
    except KPIExplorerError:
        cur.execute(f"DROP TABLE IF EXISTS {quote_ident(shadow)}")
        raise
    try:
        store.link_live_table(cur, dataset_id, connection, table.schema, table.name)
    except KPIExplorerError:
        store.delete_dataset(cur, dataset_id)
        raise
    return dataset_id


def table_of(live: LiveTable) -> TableRef:
    """The engine's table of a live dataset."""
    return TableRef(live.table, live.schema)


def revision(dataset: Dataset, live: LiveTable | None, ttl_seconds: int, now: float) -> str:
    """What the cached figures of ``dataset`` are keyed by: its content for an upload; for a
    live table, the last Refresh and the time-to-live's current window (``now`` in seconds
    since the epoch), so figures are computed again after ``ttl_seconds`` at the latest.

    >>> from datetime import datetime
    >>> d = Dataset("i", "n", "s", "t", 0, "hash", datetime(2024, 1, 1))
    >>> revision(d, None, 300, 1000.0)
    'hash'
    """
    if live is None:
        return dataset.content_hash
    window = int(now // max(int(ttl_seconds), 1))
    return f"{dataset.content_hash}|{live.refreshed_at.isoformat()}|{window}"
