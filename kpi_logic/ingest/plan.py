"""Each column's type and conversion: text columns typed from a sample (``ingest_types``),
typed ones mapped onto our types."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from kpi_logic.ingest.result import ColumnInfo
from kpi_logic.ingest.source import Source, fetch_all, params_in
from kpi_logic.ingest_types import (
    SQL_TYPES,
    Params,
    conversion_sql,
    detect_type,
    logical_type,
    native_read,
)
from kpi_logic.sql import quote_ident

SAMPLE_ROWS = 20_000  # rows read to decide the type of text columns
SAMPLE_CELLS = 2_000_000  # ... fewer on wide files, so the sample stays this size at most
MIN_SAMPLE_ROWS = 1_000
SAMPLE_VALUES = 2_000  # distinct values per column looked at


@dataclass
class ColumnPlan:
    """How one output column is made: its SQL, and the raw text to check for rejects."""

    info: ColumnInfo
    expr: str
    raw: str | None  # VARCHAR expression of the input when conversion can reject cells
    blank_header: bool
    warning: str = ""
    ident: str = ""  # the column in the source
    native: tuple[str, str] | None = None  # a typed read: (type to parse as, expr over it)


def plan_columns(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    overrides: dict[str, str],
    params: Params,
) -> list[ColumnPlan]:
    """Decide each column's type: text columns from a sample, typed ones mapped to ours."""
    types = source.types
    if types is None:
        query = f"DESCRIBE SELECT * FROM {source.sample_sql or source.sql}"
        types = {row[0]: row[1] for row in fetch_all(con, query, params_in(source.params, query))}
    text_cols = [
        ident
        for ident, name, _ in source.columns
        if types[ident] == "VARCHAR" and (source.detect or name in overrides)
    ]
    samples = sample_text_columns(con, source, text_cols)
    plans = []
    for ident, name, header in source.columns:
        col = quote_ident(ident)
        force = overrides.get(name)
        native = None
        if ident in samples:
            kind = detect_type(samples[ident], decimal_hint=source.decimal_hint, force=force)
            expr = conversion_sql(col, kind, params)
            raw = col if kind.dtype != "text" else None
            info = ColumnInfo(name, header, kind.dtype, kind.detail)
            warning = kind.warning
            if source.typed_read:
                native = native_read(col, kind, samples[ident])
        else:
            natural = logical_type(types[ident])
            dtype = force or natural
            cast = "CAST" if dtype == natural or dtype == "text" else "TRY_CAST"
            expr = f"{cast}({col} AS {SQL_TYPES[dtype]})"
            if types[ident] == "TIMESTAMP WITH TIME ZONE" and dtype == "datetime":
                expr = f"timezone('UTC', {col})"
            raw = f"CAST({col} AS VARCHAR)" if cast == "TRY_CAST" else None
            info = ColumnInfo(name, header, dtype, source.details.get(name, ""))
            warning = ""
        plans.append(ColumnPlan(info, expr, raw, not header.strip(), warning, ident, native))
    return plans


def sample_text_columns(
    con: duckdb.DuckDBPyConnection, source: Source, idents: list[str]
) -> dict[str, list[str]]:
    """Distinct values per column in the first ``SAMPLE_ROWS`` rows (fewer on wide files, see
    ``SAMPLE_CELLS``), in the order first seen (``SAMPLE_VALUES`` at most).

    DuckDB joins each column's sample into one string (``string_agg`` keeps the order of the
    rows the LIMIT passes on) and Python splits it and keeps the first occurrences: no
    pyarrow, and one Python string per column is about twice as fast as lists of cells. A
    file with a strict sample read tries it first: a row it refuses clears ``source.fits``
    and the sample reads leniently (skipping such rows) instead.
    """
    if not idents:
        return {}
    cols = [quote_ident(i) for i in idents]
    rows = max(MIN_SAMPLE_ROWS, min(SAMPLE_ROWS, SAMPLE_CELLS // len(cols)))
    values = {**source.params, "read_types": source.types}
    aggregates = ", ".join(f"string_agg({c}, chr(0)), count({c})" for c in cols)

    def read(sql: str, select: str) -> list[tuple]:
        query = f"SELECT {select} FROM (SELECT {', '.join(cols)} FROM {sql} LIMIT {rows})"
        return con.execute(query, params_in(values, query)).fetchall()

    sql = source.sample_sql or source.sql
    found = None
    if source.strict_sample_sql and source.fits:
        try:
            found = read(source.strict_sample_sql, aggregates)[0]
            sql = source.strict_sample_sql
        except duckdb.Error:
            source.fits = False
    if found is None:
        found = read(sql, aggregates)[0]
    sample = {}
    for k, ident in enumerate(idents):
        joined, count = found[2 * k], found[2 * k + 1]
        cells = joined.split("\x00") if joined is not None else []
        if len(cells) != count:  # a cell holds the separator itself: read it as rows
            cells = [c for (c,) in read(sql, cols[k]) if c is not None]
        sample[ident] = list(dict.fromkeys(cells))[:SAMPLE_VALUES]
    return sample
