"""Each column's type and conversion: text columns typed from a sample (``ingest_types``),
typed ones mapped onto our types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

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


class Sample(NamedTuple):
    """Distinct values of the sampled text columns, by identifier, first seen first."""

    values: dict[str, list[str]]
    # False when the strict read refused a row of the sample (a CSV row that doesn't fit the
    # columns), so the values come from the lenient read, which skips it: no view then.
    rows_fit: bool = True


def column_types(con: duckdb.DuckDBPyConnection, source: Source) -> dict[str, str]:
    """The DuckDB type of each column of ``source``, asked of DuckDB unless known."""
    if source.types is not None:
        return source.types
    query = f"DESCRIBE SELECT * FROM {source.sql}"
    return {row[0]: row[1] for row in fetch_all(con, query, params_in(source.params, query))}


def text_columns(source: Source, types: dict[str, str], overrides: dict[str, str]) -> list[str]:
    """The columns typed from a sample: text ones (of Parquet, only those given a type)."""
    return [
        ident
        for ident, name, _ in source.columns
        if types[ident] == "VARCHAR" and (source.detect_types or name in overrides)
    ]


def plan_columns(
    source: Source,
    types: dict[str, str],
    samples: dict[str, list[str]],
    overrides: dict[str, str],
    params: Params,
) -> list[ColumnPlan]:
    """Decide each column's type: text columns from their sample, typed ones mapped to ours."""
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
            if source.csv is not None:
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
) -> Sample:
    """Distinct values per column in the first ``SAMPLE_ROWS`` rows (fewer on wide files, see
    ``SAMPLE_CELLS``), in the order first seen (``SAMPLE_VALUES`` at most).

    DuckDB joins each column's sample into one string (``string_agg`` keeps the order of the
    rows the LIMIT passes on) and Python splits it and keeps the first occurrences: no
    pyarrow, and one Python string per column is about twice as fast as lists of cells. A CSV
    source is read strictly first, as its view would be: a row that refuses makes the sample
    read leniently (skipping such rows) instead, and ``rows_fit`` False.
    """
    if not idents:
        return Sample({})
    cols = [quote_ident(i) for i in idents]
    rows = max(MIN_SAMPLE_ROWS, min(SAMPLE_ROWS, SAMPLE_CELLS // len(cols)))
    values = {**source.params, "read_types": source.types}
    aggregates = ", ".join(f"string_agg({c}, chr(0)), count({c})" for c in cols)

    def read(sql: str, select: str) -> list[tuple]:
        query = f"SELECT {select} FROM (SELECT {', '.join(cols)} FROM {sql} LIMIT {rows})"
        return con.execute(query, params_in(values, query)).fetchall()

    sql, rows_fit = source.sql, True
    if source.csv is not None:
        try:
            found = read(source.csv.strict_sample, aggregates)[0]
            sql = source.csv.strict_sample
        except duckdb.Error:
            sql, rows_fit = source.csv.lenient_sample, False
            found = read(sql, aggregates)[0]
    else:
        found = read(sql, aggregates)[0]
    sample = {}
    for k, ident in enumerate(idents):
        joined, count = found[2 * k], found[2 * k + 1]
        cells = joined.split("\x00") if joined is not None else []
        if len(cells) != count:  # a cell holds the separator itself: read it as rows
            cells = [c for (c,) in read(sql, cols[k]) if c is not None]
        sample[ident] = list(dict.fromkeys(cells))[:SAMPLE_VALUES]
    return Sample(sample, rows_fit)
