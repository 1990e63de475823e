"""Files to DuckDB tables: CSV/TSV/TXT, Parquet and Excel, with clean names and real types.

Every file becomes a *source* (a ``read_csv``/``read_parquet`` call or a registered Arrow
table) whose text columns are typed from a sample; then ONE ``CREATE TABLE ... AS SELECT``
converts the whole file in a single scan, into a temporary name that replaces ``table``
only when everything worked. Cells that don't convert become NULL and are listed as rejects.

The modules follow that pipeline: ``load`` (``load_file``) -> ``checks`` (type, size,
signature, workbook container) -> a reader making the ``source``: ``csv`` (with ``text``:
encoding, layout, line ends), ``excel`` (with ``sheet_size`` and ``xls``: a sheet's size
before the parser reads it) or ``parquet`` -> ``plan`` (sample, each column's type) ->
``build`` (the table and its rejects) or ``view`` (``materialize=False``). ``profile`` reads a
loaded table; ``names`` makes column names; ``result`` holds what ``load_file`` returns.

The limits that tests and benchmarks change live in the module that reads them (for example
``ingest.plan.SAMPLE_ROWS``, ``ingest.sheet_size.MAX_SHEET_SPAN``); this package re-exports
them for reading.
"""

from __future__ import annotations

# pandas and pyarrow are imported inside the functions that need them (Excel, profiles, the
# rejects frame, text type detection): the command line loads a Parquet file without either.
from kpi_logic.ingest.checks import (
    MAX_COLUMNS,
    MAX_EXCEL_BYTES,
    MAX_FILE_BYTES,
    MAX_UNZIPPED_BYTES,
    MAX_XLSX_PART_BYTES,
    MAX_ZIP_RATIO,
    SUPPORTED_EXTENSIONS,
)
from kpi_logic.ingest.excel import list_sheets
from kpi_logic.ingest.load import load_file
from kpi_logic.ingest.names import clean_names
from kpi_logic.ingest.plan import MIN_SAMPLE_ROWS, SAMPLE_CELLS, SAMPLE_ROWS, SAMPLE_VALUES
from kpi_logic.ingest.profile import profile_table
from kpi_logic.ingest.result import ColumnInfo, LoadResult
from kpi_logic.ingest.sheet_size import MAX_SHEET_CELLS, MAX_SHEET_SPAN, MAX_SHEET_TEXT_BYTES
from kpi_logic.ingest.source import Progress
from kpi_logic.ingest.text import MAX_LINE_BYTES

__all__ = [
    "MAX_COLUMNS",
    "MAX_EXCEL_BYTES",
    "MAX_FILE_BYTES",
    "MAX_LINE_BYTES",
    "MAX_SHEET_CELLS",
    "MAX_SHEET_SPAN",
    "MAX_SHEET_TEXT_BYTES",
    "MAX_UNZIPPED_BYTES",
    "MAX_XLSX_PART_BYTES",
    "MAX_ZIP_RATIO",
    "MIN_SAMPLE_ROWS",
    "SAMPLE_CELLS",
    "SAMPLE_ROWS",
    "SAMPLE_VALUES",
    "SUPPORTED_EXTENSIONS",
    "ColumnInfo",
    "LoadResult",
    "Progress",
    "clean_names",
    "list_sheets",
    "load_file",
    "profile_table",
]
