"""Connect a table: a dataset that is a live table of a PostgreSQL database named in the app's
secrets (``[connections.NAME]`` with ``url = "postgresql://..."`` or Streamlit's ``dialect``,
``host``, ``port``, ``database``, ``username``, ``password``; ``ttl`` in seconds keeps the
figures that long, default 300). The database computes the figures; only aggregates come
back, cached until the time-to-live passes or someone presses Refresh."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import duckdb
import streamlit as st

from kpi_logic import compute, engines, live, tables
from kpi_logic.compute import Record
from kpi_logic.dialects import TableRef
from kpi_logic.errors import ComputeError, KPIExplorerError
from kpi_logic.model import KPI
from kpi_logic.store import Dataset, LiveTable
from kpi_logic.text import markdown_text, plain_text
from ui import kpis, session

_DATA_PAGE_SCHEMES = ("postgresql", "postgres")  # Spark is a command-line route


def connections() -> dict[str, Mapping[str, Any]]:
    """The PostgreSQL connections of the secrets, by name."""
    try:
        found = st.secrets.get("connections", {})
    except FileNotFoundError:  # no secrets file (StreamlitSecretNotFoundError): none
        return {}
    out = {}
    for name, settings in dict(found).items():
        if isinstance(settings, Mapping):
            url = engines.url_from_settings(settings)
            if url.split("://", 1)[0].lower() in _DATA_PAGE_SCHEMES:
                out[str(name)] = settings
    return out


@st.cache_resource(max_entries=16, show_spinner="Connecting…")
def _engine(name: str, url: str) -> engines.Engine:
    """One open connection per secrets entry and process."""
    return engines.connect(url)


def engine(name: str) -> engines.Engine:
    """The engine of the connection ``name``; raises ``KPIExplorerError`` when it is gone
    from the secrets or can't be reached."""
    settings = connections().get(name)
    if settings is None:  # as a computing problem: the page says so and stops, nothing lost
        raise ComputeError(f'There is no connection "{name}" in the secrets any more.')
    return _engine(name, engines.url_from_settings(settings))


def ttl_seconds(name: str) -> int:
    """How long the figures of connection ``name`` are kept (its ``ttl`` in the secrets)."""
    try:
        return max(1, int(connections().get(name, {}).get("ttl", live.DEFAULT_TTL_SECONDS)))
    except (TypeError, ValueError):
        return live.DEFAULT_TTL_SECONDS


def live_of(dataset: Dataset) -> LiveTable | None:
    """Where ``dataset``'s rows are when it is a live table; None for an upload."""
    return session.store().live_table(session.cursor(), dataset.id)


def revision(dataset: Dataset) -> str:
    """What the dataset's cached figures are keyed by (see ``live.revision``), and for a live
    table which address its connection has in the secrets now (a changed or removed entry
    computes them again)."""
    found = live_of(dataset)
    if found is None:
        return live.revision(dataset, None, live.DEFAULT_TTL_SECONDS, time.time())
    settings = connections().get(found.connection)
    where = "gone"
    if settings is not None:
        url = engines.url_from_settings(settings).encode("utf-8")
        where = hashlib.sha256(url).hexdigest()[:16]
    ttl = ttl_seconds(found.connection)
    return f"{live.revision(dataset, found, ttl, time.time())}|{where}"


def _live_by_table(table: str) -> LiveTable | None:
    dataset = next((d for d in kpis.datasets() if d.table == table), None)
    return live_of(dataset) if dataset else None


def aggregate_records(
    cur: duckdb.DuckDBPyConnection, table: str, kpi_list: Sequence[KPI], **window: Any
) -> list[Record]:
    """The aggregate's records: computed by the database for a live table, else by DuckDB."""
    found = _live_by_table(table)
    if found is None:
        return compute.aggregate_records(cur, table, kpi_list, **window)
    return engines.aggregate_records(
        engine(found.connection), live.table_of(found), kpi_list, **window
    )


def source(
    cur: duckdb.DuckDBPyConnection, table: str
) -> tuple[duckdb.DuckDBPyConnection | None, str | TableRef, engines.Engine | None]:
    """What ``scorecard`` reads: the store's connection and table, or for a live table no
    connection, the database's table and its engine."""
    found = _live_by_table(table)
    if found is None:
        return cur, table, None
    return None, live.table_of(found), engine(found.connection)


def date_span(cur: duckdb.DuckDBPyConnection, table: str, column: str) -> tuple[date, date] | None:
    """A date column's first and last day, from the database for a live table."""
    found = _live_by_table(table)
    if found is None:
        return tables.date_span(cur, table, column)
    try:
        return engines.date_span(engine(found.connection), live.table_of(found), column)
    except KPIExplorerError:  # no date filter then; the figures say what went wrong
        return None


def category_values(cur: duckdb.DuckDBPyConnection, table: str, column: str) -> list[str]:
    """A category column's values, from the database for a live table."""
    found = _live_by_table(table)
    if found is None:
        return tables.category_values(cur, table, column)
    try:
        return engines.category_values(
            engine(found.connection), live.table_of(found), column, tables.MAX_CATEGORY_VALUES
        )
    except KPIExplorerError:  # no values to pick then; the figures say what went wrong
        return []


def connect_section() -> None:
    """The Data page's "Connect a table": a connection, a table of it, Connect."""
    with st.expander("Connect a table", icon=":material/database:"):
        named = connections()
        if not named:
            st.caption(
                "To use the tables of a PostgreSQL database here, name it in the app's secrets "
                "file, .streamlit/secrets.toml (the database computes the figures):"
            )
            st.code(
                '[connections.orders_db]\nurl = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"',
                language="toml",
            )
            return
        name = st.selectbox("Connection", list(named), key="live_connection")
        try:
            found = engine(name).tables()
        except KPIExplorerError as err:
            st.error(markdown_text(err), icon=":material/error:")
            return
        if not found:
            st.info("This database has no table or view to show.")
            return
        schemas = list(dict.fromkeys(ref.schema or "" for ref in found))
        schema = st.selectbox("Schema", schemas, format_func=plain_text, key="live_schema")
        in_schema = {ref.name: ref for ref in found if (ref.schema or "") == schema}
        picked = st.selectbox(
            "Table", list(in_schema), format_func=plain_text, key="live_table_pick"
        )
        if picked is not None and st.button("Connect", key="live_connect", icon=":material/link:"):
            _connect(name, in_schema[picked])


def _connect(name: str, table: TableRef) -> None:
    try:
        dataset_id = live.add_live_dataset(
            session.store(), session.cursor(), engine(name), name, table
        )
    except KPIExplorerError as err:
        st.error(f"Not connected: {markdown_text(err)}", icon=":material/error:")
        return
    kpis.choose_dataset(dataset_id)
    st.rerun()


@st.cache_data(max_entries=32, show_spinner="Profiling the columns in the database…")
def _profile(
    name: str, schema: str | None, table: str, revision: str, distinct: bool
) -> tuple[int, list[dict[str, object]]]:
    return engines.profile(engine(name), TableRef(table, schema), distinct=distinct)


def details(dataset: Dataset) -> bool:
    """For a live dataset: where it is, Refresh, and its column profile computed by the
    database; True then (the page skips what only uploads have), else False."""
    found = live_of(dataset)
    if found is None:
        return False
    ttl = ttl_seconds(found.connection)
    st.markdown(
        f"**Live table** {markdown_text(str(live.table_of(found)))} of the connection "
        f"{markdown_text(found.connection)}: the database computes every figure; figures are "
        f"kept for {ttl:,} s (last refresh {found.refreshed_at:%Y-%m-%d %H:%M:%S} UTC)."
    )
    if st.button("Refresh", key="live_refresh", icon=":material/refresh:"):
        session.store().refresh_live_table(session.cursor(), dataset.id)
        st.rerun()
    distinct = dataset.rows <= live.DISTINCT_ROWS  # a distinct count sorts every column
    try:
        rows, profiled = _profile(
            found.connection, found.schema, found.table, revision(dataset), distinct
        )
    except KPIExplorerError as err:
        st.error(markdown_text(err), icon=":material/error:")
        return True
    st.dataframe(profiled, hide_index=True, width="stretch")
    note = "" if distinct else f" Distinct values are not counted over {live.DISTINCT_ROWS:,} rows."
    st.caption(f"{rows:,} rows in the table now, profiled by the database.{note}")
    return True
