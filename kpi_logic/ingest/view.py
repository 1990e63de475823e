"""``load_file(..., materialize=False)``: the typed SELECT as a view over the file."""

from __future__ import annotations

from contextlib import suppress

import duckdb

from kpi_logic.ingest.plan import ColumnPlan
from kpi_logic.ingest.result import LoadResult
from kpi_logic.ingest.source import Source, fetch_all, params_in
from kpi_logic.ingest_types import Params
from kpi_logic.sql import quote_ident


def drop_relation(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop table or view ``name`` if there is one (DuckDB's DROP TABLE refuses a view)."""
    found = con.execute(
        "SELECT 'VIEW' FROM duckdb_views() WHERE NOT internal AND lower(view_name) = lower($n)"
        " AND schema_name = current_schema() UNION ALL SELECT 'TABLE' FROM duckdb_tables()"
        " WHERE lower(table_name) = lower($n) AND schema_name = current_schema()",
        {"n": name},
    ).fetchall()
    for (kind,) in found:
        con.execute(f"DROP {kind} {quote_ident(name)}")


def try_view(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    table: str,
    plans: list[ColumnPlan],
    params: Params,
) -> LoadResult | None:
    """``create_view``, or None when DuckDB refuses it (rows that don't fit the columns, met
    while counting blank-header columns): a table lists them."""
    try:
        return create_view(con, source, table, plans, params)
    except duckdb.Error:
        with suppress(duckdb.Error):
            con.execute("ROLLBACK")
        return None


def create_view(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    table: str,
    plans: list[ColumnPlan],
    params: Params,
) -> LoadResult:
    """``table`` as a view: the typed SELECT of ``create_table`` without the reject helpers, the
    rows and columns ``_finish`` drops left out (columns with a blank header and no value
    cost one scan of those columns, so only when there are such headers).

    The view reads strictly and without DuckDB's reject log (``CsvReads.view``): each query of the
    view would otherwise write one, so a row that doesn't fit the columns makes the query fail
    instead of vanishing unreported (load a table to get it listed among the rejects).
    DuckDB binds the parameters into the view's SQL as constants.
    """
    sql = source.csv.view if source.csv is not None else source.sql
    exprs = [f"{p.native[1] if p.native else p.expr} AS {quote_ident(p.info.name)}" for p in plans]
    inner = f"SELECT {', '.join(exprs)} FROM {sql}"
    used = params_in(params.values, inner)
    if source.csv is not None:
        used["read_types"] = {p.ident: p.native[0] if p.native else "VARCHAR" for p in plans}
    blank = [p for p in plans if p.blank_header]
    kept = plans
    if blank:
        counts = ", ".join(f"count({quote_ident(p.info.name)})" for p in blank)
        filled = fetch_all(con, f"SELECT {counts} FROM ({inner})", used)[0]
        empty = {p.info.name for p, n in zip(blank, filled, strict=True) if n == 0}
        kept = [p for p in plans if p.info.name not in empty]
    some_value = " OR ".join(f"{quote_ident(p.info.name)} IS NOT NULL" for p in plans)
    query = (
        f"SELECT {', '.join(quote_ident(p.info.name) for p in kept)} FROM ({inner})"
        f" WHERE {some_value}"
    )
    relation = con.sql(query, params=used)
    try:  # no object of that name, or a view: one statement, no catalog look-up
        relation.create_view(table, replace=True)
    except duckdb.CatalogException:  # a table of that name
        con.execute("BEGIN TRANSACTION")
        drop_relation(con, table)
        relation.create_view(table, replace=False)
        con.execute("COMMIT")
    return LoadResult(
        table=table,
        rows=None,
        columns=[p.info for p in kept],
        reject_rows=[],
        warnings=[f"Column {p.info.name!r}: {p.warning}." for p in plans if p.warning],
    )
