"""``load_file``: the entry point, which checks the file and the overrides and hands the file to
its reader (``csv``, ``excel`` or ``parquet``), each of which ends in ``build``."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from kpi_logic.errors import IngestError
from kpi_logic.ingest.checks import MAX_FILE_BYTES, SUPPORTED_EXTENSIONS, check_file, extension
from kpi_logic.ingest.csv import load_delimited
from kpi_logic.ingest.excel import load_excel
from kpi_logic.ingest.parquet import load_parquet
from kpi_logic.ingest.result import LoadResult
from kpi_logic.ingest.source import Progress
from kpi_logic.ingest_types import LOGICAL_TYPES


def load_file(
    con: duckdb.DuckDBPyConnection,
    path: str | os.PathLike[str],
    table: str,
    *,
    sheet: str | None = None,
    type_overrides: dict[str, str] | None = None,
    progress: Progress | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    materialize: bool = True,
) -> LoadResult:
    """Create or replace DuckDB table ``table`` from a CSV/TSV/TXT, Parquet or Excel file.

    ``type_overrides`` maps clean column names to a logical type ("number", "integer",
    "date", "datetime", "boolean", "text"). Raises :class:`IngestError` with one line on
    any problem; ``table`` and every other table are then left as they were.

    ``materialize=False`` makes ``table`` a VIEW over the file instead: the same typed SELECT
    (names, types, conversions; cells that don't convert are NULL, empty rows left out) runs
    on every query of the view, so a single query reads the file once instead of twice. Only
    the type-detection sample is read now: ``rows`` is None, rejects are empty and the
    warnings are type detection's only. The view reads strictly: a row DuckDB can't read
    (wrong number of fields, invalid UTF-8 after the first megabyte) fails the view's queries
    instead of vanishing, and one found while the view is made makes ``table`` a table after
    all, with that row among the rejects. A CSV column whose sample holds plain numbers only
    is parsed by DuckDB's reader, so past the sample a cell that is no plain number fails the
    view's queries too (where the table would have listed it as rejected). The file must stay
    readable by ``con`` for as long as the view is used. Excel workbooks and text files in
    other encodings than UTF-8/UTF-16 (read from a temporary UTF-8 copy) are materialized
    anyway; their ``rows`` is then counted.
    """
    path = Path(path)
    report = progress or (lambda fraction, message: None)
    ext = extension(path)
    if ext not in SUPPORTED_EXTENSIONS:
        allowed = ", ".join("." + e for e in SUPPORTED_EXTENSIONS)
        raise IngestError(f"{path.name}: files of this type can't be loaded (use {allowed}).")
    check_file(path, max_bytes)
    overrides = dict(type_overrides or {})
    for name, dtype in overrides.items():
        if dtype not in LOGICAL_TYPES:
            raise IngestError(f"Unknown type {dtype!r} for column {name!r}.")
    report(0.05, "Reading the file")
    if ext == "parquet":
        return load_parquet(con, path, table, overrides, report, materialize)
    if ext in ("xlsx", "xls"):
        return load_excel(con, path, ext, table, sheet, overrides, report)
    return load_delimited(con, path, ext, table, overrides, report, materialize)
