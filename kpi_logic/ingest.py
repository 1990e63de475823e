"""Files to DuckDB tables: CSV/TSV/TXT, Parquet and Excel, with clean names and real types.

Every file becomes a *source* (a ``read_csv``/``read_parquet`` call or a registered Arrow
table) whose text columns are typed from a sample; then ONE ``CREATE TABLE ... AS SELECT``
converts the whole file in a single scan, into a temporary name that replaces ``table``
only when everything worked. Cells that don't convert become NULL and are listed as rejects.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import itertools
import math
import os
import posixpath
import re
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from kpi_logic.errors import IngestError
from kpi_logic.ingest_types import (
    LOGICAL_TYPES,
    SQL_TYPES,
    Params,
    conversion_sql,
    detect_type,
    is_missing,
    logical_type,
    missing_sql,
    native_read,
)
from kpi_logic.sql import quote_ident

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

# pandas and pyarrow are imported inside the functions that need them (Excel, profiles, the
# rejects frame, text type detection): the command line loads a Parquet file without either.

SUPPORTED_EXTENSIONS = ("csv", "tsv", "txt", "parquet", "xlsx", "xls")
MAX_FILE_BYTES = 2 * 1024**3  # any file, checked before anything is read
MAX_EXCEL_BYTES = 200 * 1024**2  # workbooks are read whole into memory
MAX_UNZIPPED_BYTES = 1024**3  # xlsx: declared uncompressed size of all parts
MAX_ZIP_RATIO = 200  # xlsx: compression ratio of one large part (zip bombs are far above)
# One sheet, counted from its cells before any parser sees it (bench/bench_excel.py measures
# the peak memory of loads at these limits): the Excel reader makes a grid of rows x columns
# from A1 to the last cell (~55 bytes a grid cell), plus the cells with something in them.
MAX_SHEET_SPAN = 6_000_000  # rows x columns from A1 to the last row and column used
MAX_SHEET_CELLS = 3_000_000  # cells written in the sheet (filled or not)
MAX_SHEET_TEXT_BYTES = 32 * 1024**2  # text of the cells, a shared string once per cell
MAX_XLSX_PART_BYTES = 192 * 1024**2  # xlsx: one part unpacked (a sheet's XML, shared strings)
MAX_COLUMNS = 2_000
_RESERVED_NAMES = ("rowid",)  # column names that clean_names renames like duplicates
MAX_LINE_BYTES = 2_000_000  # one line of a text file (DuckDB's max_line_size)
_LONG_LINE = f"line over {MAX_LINE_BYTES:,} bytes"
SAMPLE_ROWS = 20_000  # rows read to decide the type of text columns
SAMPLE_CELLS = 2_000_000  # ... fewer on wide files, so the sample stays this size at most
MIN_SAMPLE_ROWS = 1_000
SAMPLE_VALUES = 2_000  # distinct values per column looked at
# CSV buffer of the sample read: DuckDB's default (16x its 2 MB max_line_size) would read
# 32 MB for a few thousand rows; this one still holds the longest line DuckDB accepts.
_SAMPLE_BUFFER = 2 * 1024**2
MAX_REJECTS_LISTED = 1_000
_HEAD_BYTES = 1024**2  # start of a text file read for encoding, delimiter and header
_DELIMITERS = (",", ";", "\t", "|")
_LINE_END = re.compile(r"\r\n?|\n")
# The csv module refuses cells over 128 KB by default; no cell of a head can be longer than it.
csv.field_size_limit(max(csv.field_size_limit(), _HEAD_BYTES))
_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a zip archive (perhaps an .xlsx workbook)",
    b"\xd0\xcf\x11\xe0": "an old Office file (perhaps an .xls workbook)",
    b"\x1f\x8b": "a gzip archive",
    b"PAR1": "a Parquet file",
}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
Progress = Callable[[float, str], None]
_HELPER = f"__kpi_{uuid.uuid4().hex[:6]}"  # prefix of helper columns: can't meet a user's
_REJECTS = _HELPER + "_rejects"


@dataclass(frozen=True)
class ColumnInfo:
    """One loaded column: clean ``name``, header as written, logical ``dtype`` and how."""

    name: str
    source_name: str
    dtype: str
    detail: str = ""


@dataclass
class LoadResult:
    """What ``load_file`` made: the table, its row count, columns, rejected cells, warnings.

    For a view (``materialize=False``) ``rows`` is None and there are no rejects (nothing was
    read but the sample); warnings then come from type detection only.

    ``reject_rows`` lists the first ``MAX_REJECTS_LISTED`` rejects by row as dicts with the
    columns of ``rejects``, the frame built from them on first use.
    """

    table: str
    rows: int | None  # None for a view (``load_file(..., materialize=False)``): not counted
    columns: list[ColumnInfo]
    reject_rows: list[dict[str, object]]
    warnings: list[str] = field(default_factory=list)

    @functools.cached_property
    def rejects(self) -> pd.DataFrame:
        """``row`` (int64), ``column``, ``value``, ``reason`` per rejected row or cell."""
        import pandas as pd

        listed = self.reject_rows
        return pd.DataFrame(
            {
                "row": pd.Series([r["row"] for r in listed], dtype="int64"),
                **{
                    k: pd.Series([r[k] for r in listed], dtype=object)
                    for k in ("column", "value", "reason")
                },
            }
        )


@dataclass
class _Source:
    """A relation to load from: SQL text for FROM, its parameters, and its columns.

    ``columns`` holds ``(identifier in the relation, clean name, name as written)``.
    ``detect`` says whether VARCHAR columns get type detection (not for Parquet).
    """

    sql: str
    params: dict[str, object]
    columns: list[tuple[str, str, str]]
    detect: bool = True
    decimal_hint: str = "."
    details: dict[str, str] = field(default_factory=dict)
    sample_sql: str | None = None  # when sampling must read differently (no reject log)
    view_sql: str | None = None  # a view's strict read: a row that doesn't fit is an error
    strict_sample_sql: str | None = None  # the sample as the view reads: tried first
    rejects_table: str | None = None  # DuckDB's reject log for CSV rows that don't fit
    types: dict[str, str] | None = None  # DuckDB type per column, when known without a query
    typed_read: bool = False  # the sample and view SQL take ``$read_types``: column -> type
    fits: bool = True  # False once the sample met a row that strict_sample_sql refuses
    head_width: bool = False  # the columns were counted on the first lines, for a view only


class _NotUtf8(Exception):
    """A file that looked like UTF-8 has invalid bytes further on."""


class _LineTooLong(Exception):
    """DuckDB met a line over ``MAX_LINE_BYTES`` where it can't skip it (while sniffing)."""


class _MixedNewlines(Exception):
    """DuckDB's reader met line ends other than those it started with (a copy with LF only
    reads)."""


class _NoView(Exception):
    """No view over a source counted on its first lines: a table needs DuckDB's count."""


# --- public API -----------------------------------------------------------------------


def list_sheets(path: str | os.PathLike[str]) -> list[str]:
    """Sheet names of an Excel workbook, in order; ``[]`` for other file types."""
    path = Path(path)
    ext = _extension(path)
    if ext not in ("xlsx", "xls"):
        return []
    _check_file(path, MAX_EXCEL_BYTES)
    _check_workbook(path, ext)
    import pandas as pd

    try:
        return list(pd.ExcelFile(path, engine="calamine").sheet_names)
    except Exception as err:
        raise IngestError(f"{path.name} could not be opened as an Excel workbook.") from err


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
    ext = _extension(path)
    if ext not in SUPPORTED_EXTENSIONS:
        allowed = ", ".join("." + e for e in SUPPORTED_EXTENSIONS)
        raise IngestError(f"{path.name}: files of this type can't be loaded (use {allowed}).")
    _check_file(path, max_bytes)
    overrides = dict(type_overrides or {})
    for name, dtype in overrides.items():
        if dtype not in LOGICAL_TYPES:
            raise IngestError(f"Unknown type {dtype!r} for column {name!r}.")
    report(0.05, "Reading the file")
    if ext == "parquet":
        return _build(con, _parquet_source(con, path), table, overrides, report, materialize)
    if ext in ("xlsx", "xls"):
        return _load_excel(con, path, ext, table, sheet, overrides, report)
    return _load_delimited(con, path, ext, table, overrides, report, materialize)


def profile_table(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    """One row per column: type, nulls, approximate distinct count, min, max, examples.

    All statistics come from a single aggregate query (one scan of the table).
    """
    import pandas as pd

    try:
        described = con.execute(f"DESCRIBE {quote_ident(table)}").fetchall()
    except duckdb.CatalogException as err:
        raise IngestError(f"There is no table named {table!r}.") from err
    aggregates = []
    for name, *_ in described:
        col = quote_ident(name)
        aggregates += [
            f"count(*) - count({col})",
            f"approx_count_distinct({col})",
            f"CAST(min({col}) AS VARCHAR)",
            f"CAST(max({col}) AS VARCHAR)",
            f"CAST(approx_top_k({col}, 3) AS VARCHAR[])",
        ]
    if not aggregates:
        values: Sequence[object] = []
    else:
        query = f"SELECT {', '.join(aggregates)} FROM {quote_ident(table)}"
        values = con.execute(query).fetchall()[0]
    rows = []
    for i, (name, sql_type, *_) in enumerate(described):
        nulls, distinct, low, high, examples = values[5 * i : 5 * i + 5]
        rows.append(
            {
                "column": name,
                "type": logical_type(sql_type),
                "nulls": nulls,
                "distinct": distinct,
                "min": low,
                "max": high,
                "examples": [e for e in (examples or []) if e is not None],
            }
        )
    columns = ["column", "type", "nulls", "distinct", "min", "max", "examples"]
    return pd.DataFrame(rows, columns=columns)


# --- checks ---------------------------------------------------------------------------


def _extension(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


def _check_file(path: Path, max_bytes: int) -> None:
    """Exists, is not empty, is not over ``max_bytes``."""
    if not path.is_file():
        raise IngestError(f"File not found: {path.name}")
    size = path.stat().st_size
    if size == 0:
        raise IngestError(f"{path.name} is empty (0 bytes).")
    if size > max_bytes:
        raise IngestError(
            f"{path.name} is {_megabytes(size)}; the limit is {_megabytes(max_bytes)}."
        )


def _megabytes(size: int) -> str:
    return f"{size / 1024**2:,.1f} MB"


def _check_workbook(path: Path, ext: str) -> None:
    """Refuse encrypted, corrupt or zip-bomb workbooks before any parser sees them."""
    with path.open("rb") as f:
        head = f.read(64)
    if ext == "xls":
        if not head.startswith(_OLE_MAGIC):
            raise IngestError(f"{path.name} is not an Excel .xls workbook{_looks_like(head)}.")
        sizes = _xls_sheet_sizes(path)  # the reader reads every sheet on opening
        if not sizes:  # what can't be read here can't be checked
            raise IngestError(f"{path.name} is damaged (no sheets could be read in it).")
        for name, size in sizes:
            _check_sheet_size(path, name, size)
        return
    if head.startswith(_OLE_MAGIC[:4]):
        raise IngestError(
            f"{path.name} is password-protected (encrypted); save it without a password."
        )
    if not head.startswith(b"PK"):
        raise IngestError(f"{path.name} is not an Excel .xlsx workbook{_looks_like(head)}.")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
    except (zipfile.BadZipFile, OSError) as err:
        raise IngestError(f"{path.name} is damaged or incomplete (not a readable .xlsx).") from err
    if "xl/workbook.xml" not in names:
        raise IngestError(f"{path.name} is a zip file but not an Excel workbook.")
    total = sum(i.file_size for i in infos)
    bomb = any(
        i.file_size > 10 * 1024**2 and i.file_size > MAX_ZIP_RATIO * max(i.compress_size, 1)
        for i in infos
    )
    if total > MAX_UNZIPPED_BYTES or bomb:
        raise IngestError(
            f"{path.name} is refused as unsafe: its {_megabytes(path.stat().st_size)} would "
            f"unpack to {_megabytes(total)}."
        )
    largest = max(infos, key=lambda i: i.file_size)
    if largest.file_size > MAX_XLSX_PART_BYTES:  # e.g. shared strings: the reader holds them
        raise IngestError(
            f"{path.name} is too large to load: its part {largest.filename} unpacks to "
            f"{_megabytes(largest.file_size)} (the limit is {_megabytes(MAX_XLSX_PART_BYTES)})."
        )


def _looks_like(head: bytes) -> str:
    """``": it looks like a PNG image"`` for known file signatures, else ``""``."""
    if head.lstrip().lower().startswith((b"<!doctype", b"<html", b"<table")):
        return ": it looks like a web page (open it in Excel and save it as .xlsx)"
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            return f": it looks like {what}"
    return ""


def _check_columns(path: Path, count: int) -> None:
    if count > MAX_COLUMNS:
        raise IngestError(
            f"{path.name} has {count:,} columns; at most {MAX_COLUMNS:,} can be loaded."
        )


# --- workbook size (read from the file, before any parser sees it) ------------------------


@dataclass
class _SheetSize:
    """What a sheet's cells span: the last row and column used (1-based), the cell count and
    the bytes of text its cells hold (the reader copies a shared string into each cell)."""

    rows: int = 0
    columns: int = 0
    cells: int = 0
    text: int = 0

    @property
    def span(self) -> int:
        return self.rows * self.columns


def _check_sheet_size(path: Path, sheet: str, size: _SheetSize) -> None:
    """Refuse a sheet over ``MAX_SHEET_SPAN``, ``MAX_SHEET_CELLS`` or ``MAX_SHEET_TEXT_BYTES``,
    in one line."""
    if size.span > MAX_SHEET_SPAN:
        raise IngestError(
            f"Sheet {sheet!r} of {path.name} is too large to load: its cells reach row "
            f"{size.rows:,} and column {size.columns:,}, a grid of {size.span:,} cells (the "
            f"limit is {MAX_SHEET_SPAN:,}). Delete what lies outside the table and save it again."
        )
    if size.cells > MAX_SHEET_CELLS:
        raise IngestError(
            f"Sheet {sheet!r} of {path.name} is too large to load: it has {size.cells:,} cells "
            f"(the limit is {MAX_SHEET_CELLS:,})."
        )
    if size.text > MAX_SHEET_TEXT_BYTES:
        raise IngestError(
            f"Sheet {sheet!r} of {path.name} is too large to load: its cells hold "
            f"{_megabytes(size.text)} of text (the limit is {_megabytes(MAX_SHEET_TEXT_BYTES)})."
        )


_XML_CELL = re.compile(rb"[<:]c[\s/>]")  # a cell element, with or without a namespace prefix
_XML_ROW = re.compile(rb"[<:]row[\s/>]")
# The r="..." attribute of any element: "B7" on cells, "7" on rows. Others are counted too,
# so a position can only come out too large, never too small.
_XML_REF = re.compile(rb"""\sr\s*=\s*["']([A-Za-z]*)([0-9]+)["']""")
_XML_SHARED_CELL = re.compile(rb"""\st\s*=\s*["']s["']""")  # a cell holding a shared string
_XML_SHARED_VALUE = re.compile(  # ... and its value, the string's number
    rb"""\st\s*=\s*["']s["'][^>]*>\s*<(?:[A-Za-z_][\w.-]*:)?v>\s*([0-9]{1,9})\s*<"""
)
_XML_SHARED_STRING = re.compile(rb"[<:]si[\s/>]")
# Text written in the cells (inline strings, formula results) counts with shared text when
# longer than any number can be; shorter texts are covered by the cell limit.
_XML_LONG_TEXT = re.compile(rb">([^<]{25,})<")
_XML_PIECE_BYTES = 1024**2  # no tag or text of a sheet is this long (a cell holds 32,767 chars)
_XML_SMALL_PART = 16 * 1024**2  # workbook.xml and its relationships, parsed whole


def _xlsx_sheet_size(path: Path, sheet: str) -> _SheetSize:
    """The cells of ``sheet`` as its XML states them, streamed in 1 MB pieces.

    The ``<dimension>`` element may lie, so every cell's reference decides (the reader sizes
    its grid by them); cells and rows without a reference take the next position, so each
    one adds a column or a row at most. The scan stops once a limit is passed.
    """
    size = _SheetSize()
    refs = rows = row_refs = unread = 0  # unread: cells of shared text counted at the longest
    uses: Counter[bytes] = Counter()  # shared string number -> cells showing it
    with zipfile.ZipFile(path) as zf:
        part, strings = _xlsx_parts(path, zf, sheet)
        lengths = _shared_string_sizes(zf, strings)
        longest = max(lengths, default=0)
        with zf.open(part) as xml:
            carry = b""
            while chunk := xml.read(1024**2):
                data, carry = _complete_tags(carry + chunk)
                if len(carry) > _XML_PIECE_BYTES:
                    raise IngestError(f"Sheet {sheet!r} of {path.name} is not valid XML.")
                size.text += sum(map(len, _XML_LONG_TEXT.findall(data)))
                size.cells += _count_cells(data)
                # <rowBreaks> counts too: a row more at most
                rows += len(_XML_ROW.findall(data)) if b":row" in data else data.count(b"<row")
                if found := _XML_REF.findall(data):
                    letters, digits = zip(*found, strict=True)
                    row_refs += letters.count(b"")  # a row's reference has no letters
                    refs += len(letters) - letters.count(b"")
                    size.columns = max(size.columns, _largest_column(set(letters)))
                    size.rows = max(size.rows, _largest_number(set(digits)))
                shown = _count_shared_cells(data)
                # cells counted at the longest string take a quarter of the limit at most;
                # past that, which string each cell shows is read
                if (unread + shown) * longest > MAX_SHEET_TEXT_BYTES // 4:
                    values = _XML_SHARED_VALUE.findall(data)
                    uses.update(values)
                    shown -= len(values)
                unread += shown
                if size.span > MAX_SHEET_SPAN or size.cells > MAX_SHEET_CELLS:
                    return size
    size.columns += max(size.cells - refs, 0)
    size.rows += max(rows - row_refs, 0)
    size.text += unread * longest + sum(
        n * (lengths[int(i)] if int(i) < len(lengths) else longest) for i, n in uses.items()
    )
    return size


def _count_cells(data: bytes) -> int:
    """How many ``<c`` elements ``data`` holds: counted as plain bytes, unless some element
    has a namespace prefix (then with a pattern)."""
    if b":c" in data:
        return len(_XML_CELL.findall(data))
    return sum(data.count(b"<c" + end) for end in (b" ", b">", b"/", b"\t", b"\n", b"\r"))


def _count_shared_cells(data: bytes) -> int:
    """How many ``t="s"`` attributes ``data`` holds: counted as plain bytes, unless it is
    written in another way somewhere (then with a pattern)."""
    if any(variant in data for variant in (b"t='", b"t =", b"t= ", b"\tt=", b"\nt=", b"\rt=")):
        return len(_XML_SHARED_CELL.findall(data))
    return data.count(b' t="s"')


def _complete_tags(data: bytes) -> tuple[bytes, bytes]:
    """``data`` up to its last ``<``, and the rest: no tag or text is cut in two."""
    cut = data.rfind(b"<")
    return (data, b"") if cut < 0 else (data[:cut], data[cut:])


def _largest_number(digits: set[bytes]) -> int:
    """The largest of decimal numbers given as ASCII digits (however many digits)."""
    trimmed = {d.lstrip(b"0") or b"0" for d in digits}
    longest = max(map(len, trimmed))
    return int(max(d for d in trimmed if len(d) == longest)[:12])


def _largest_column(letters: set[bytes]) -> int:
    """The largest column number (A = 1) of column letters such as ``XFD``."""
    upper = {c.upper() for c in letters}
    longest = max(map(len, upper))  # 0 when only rows have references
    number = 0
    for ch in max(c for c in upper if len(c) == longest)[:8]:
        number = number * 26 + ch - 64
    return number


def _xlsx_parts(path: Path, zf: zipfile.ZipFile, sheet: str) -> tuple[str, list[str]]:
    """The zip members holding ``sheet``'s XML and the shared strings, found as the reader
    finds them (workbook.xml's sheet entry and the workbook's relationships). A workbook
    whose sheet can't be found is refused: what isn't found can't be checked."""
    from xml.etree import ElementTree

    damaged = IngestError(f"{path.name} is damaged: sheet {sheet!r} can't be found in it.")
    rels_name = "xl/_rels/workbook.xml.rels"
    try:
        if any(zf.getinfo(n).file_size > _XML_SMALL_PART for n in ("xl/workbook.xml", rels_name)):
            raise damaged
        workbook = ElementTree.fromstring(zf.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(zf.read(rels_name))
    except (KeyError, ElementTree.ParseError) as err:
        raise damaged from err
    rel_id = next(
        (
            value
            for element in workbook.iter()
            if element.tag.endswith("}sheet") and element.get("name") == sheet
            for key, value in element.attrib.items()
            if key.endswith("}id")
        ),
        None,
    )
    targets = {r.get("Id"): r.get("Target") or "" for r in rels}
    strings = next(
        (r.get("Target") for r in rels if (r.get("Type") or "").endswith("/sharedStrings")), None
    )
    names = set(zf.namelist())

    def member(target: str) -> str:
        name = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        return posixpath.normpath(name)

    part = member(targets.get(rel_id, "")) if rel_id in targets else None
    if part is None or part not in names:
        raise damaged
    # the reader may take the usual name whatever the relationships say: both are counted
    shared = {member(strings) if strings else "", "xl/sharedStrings.xml"} & names
    return part, sorted(shared)


def _shared_string_sizes(zf: zipfile.ZipFile, parts: list[str]) -> list[int]:
    """The size in bytes of each shared string's XML (``<si>`` to the next), streamed: an
    upper bound of its text (the larger one where ``parts`` hold two lists)."""
    found = [_string_sizes(zf, part) for part in parts]
    return [max(sizes) for sizes in itertools.zip_longest(*found, fillvalue=0)]


def _string_sizes(zf: zipfile.ZipFile, part: str) -> list[int]:
    """``_shared_string_sizes`` of one part."""
    starts: list[int] = []
    offset, carry = 0, b""
    with zf.open(part) as xml:
        while chunk := xml.read(1024**2):
            data, carry = _complete_tags(carry + chunk)
            starts += [offset + m.start() for m in _XML_SHARED_STRING.finditer(data)]
            offset += len(data)
    ends = starts[1:] + [offset + len(carry)]
    return [end - start for start, end in zip(starts, ends, strict=True)]


# BIFF records of .xls sheets that hold one cell (row and column first) or a run of cells in
# one row (row, first column, ..., last column as the record's last two bytes).
_BIFF_CELL = frozenset({0x0006, 0x00D6, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E})
_BIFF_CELL_RUN = frozenset({0x00BD, 0x00BE})  # MULRK, MULBLANK
_BIFF_TEXT = frozenset({0x0204, 0x00D6})  # LABEL, RSTRING: row, column, format, length, text
_BIFF_SHEET, _BIFF_EOF, _BIFF_SST, _BIFF_CONTINUE, _BIFF_LABELSST = 0x85, 0x0A, 0xFC, 0x3C, 0xFD


def _xls_sheet_sizes(path: Path) -> list[tuple[str, _SheetSize]]:
    """Each sheet's cells, from the BIFF records of an .xls file's Workbook stream."""
    stream = _ole_stream(path, ("Workbook", "Book"))
    sheets: list[tuple[str, int]] = []
    shared: list[bytes] = []  # the shared strings record and its continuations
    for kind, data in _biff_records(stream, 0):
        if kind == _BIFF_SHEET and len(data) >= 8:
            sheets.append((_biff_sheet_name(data), int.from_bytes(data[:4], "little")))
        elif kind == _BIFF_SST or (kind == _BIFF_CONTINUE and shared):
            shared.append(data)
        elif kind == _BIFF_EOF or shared:
            break  # the end of the globals, or of their one string table
    lengths = _biff_string_lengths(shared)
    return [(name, _xls_sheet_size(stream, offset, lengths)) for name, offset in sheets]


def _xls_sheet_size(stream: bytes, offset: int, lengths: list[int]) -> _SheetSize:
    """The cells of the sheet whose records start at ``offset``; ``lengths``: the number of
    characters of each shared string."""
    size, longest = _SheetSize(), max(lengths, default=0)
    for kind, data in _biff_records(stream, offset):
        # 3 bytes a character: the most UTF-8 takes for one
        if kind == _BIFF_LABELSST and len(data) >= 10:
            index = int.from_bytes(data[6:10], "little")
            size.text += 3 * (lengths[index] if index < len(lengths) else longest)
        elif kind in _BIFF_TEXT and len(data) >= 8:  # a text written in its cell
            size.text += 3 * (data[6] | data[7] << 8)
        if kind in _BIFF_CELL and len(data) >= 4:
            row, col, count = data[0] | data[1] << 8, data[2] | data[3] << 8, 1
        elif kind in _BIFF_CELL_RUN and len(data) >= 6:
            row, first = data[0] | data[1] << 8, data[2] | data[3] << 8
            col = data[-2] | data[-1] << 8
            count = max(col - first + 1, 0)
        elif kind == _BIFF_EOF:
            break
        else:
            continue
        size.rows, size.columns = max(size.rows, row + 1), max(size.columns, col + 1)
        size.cells += count
    return size


def _biff_string_lengths(parts: list[bytes]) -> list[int]:
    """The number of characters of each string of an SST record (``parts``: its data, then
    its CONTINUE records'). A string's characters may go on in the next part, which then
    starts with a byte saying whether they are 8 or 16 bits wide."""
    if not parts or len(parts[0]) < 8:
        return []
    count = int.from_bytes(parts[0][4:8], "little")
    parts = [parts[0][8:], *parts[1:]]
    part, pos, lengths = 0, 0, []

    def take(n: int) -> bytes:  # n bytes of headers, runs or extensions, across parts
        nonlocal part, pos
        out = b""
        while len(out) < n and part < len(parts):
            piece = parts[part][pos : pos + n - len(out)]
            out, pos = out + piece, pos + len(piece)
            if pos >= len(parts[part]):
                part, pos = part + 1, 0
        return out

    while len(lengths) < count and part < len(parts):
        head = take(3)
        if len(head) < 3:
            break
        chars, flags = head[0] | head[1] << 8, head[2]
        runs = int.from_bytes(take(2), "little") if flags & 8 else 0
        extra = int.from_bytes(take(4), "little") if flags & 4 else 0
        width, left = 2 if flags & 1 else 1, chars
        while left and part < len(parts):
            fits = min(left, (len(parts[part]) - pos) // width)
            left, pos = left - fits, pos + fits * width
            if left and part + 1 < len(parts):  # goes on in the next part, after a flag byte
                part, pos = part + 1, 1
                width = 2 if parts[part][:1] == b"\x01" else 1
            elif left:
                part += 1
        take(4 * runs + extra)
        lengths.append(chars)
    return lengths


def _biff_records(stream: bytes, offset: int) -> Iterator[tuple[int, bytes]]:
    """``(record type, data)`` from ``offset`` to the end of ``stream``."""
    while offset + 4 <= len(stream):
        kind = stream[offset] | stream[offset + 1] << 8
        length = stream[offset + 2] | stream[offset + 3] << 8
        yield kind, stream[offset + 4 : offset + 4 + length]
        offset += 4 + length


def _biff_sheet_name(data: bytes) -> str:
    """The name in a BOUNDSHEET record (BIFF8: 8-bit or UTF-16 by a flag; BIFF5: 8-bit)."""
    length, wide = data[6], len(data) > 7 and data[7] & 1
    if len(data) >= 8 + length * (2 if wide else 1):  # BIFF8
        raw = data[8 : 8 + length * (2 if wide else 1)]
        return raw.decode("utf-16-le" if wide else "latin-1", errors="replace")
    return data[7 : 7 + length].decode("latin-1", errors="replace")


def _ole_stream(path: Path, names: Sequence[str]) -> bytes:
    """The first of the streams ``names`` in an OLE2 compound file (the container of .xls),
    read through its sector tables; b"" when there is none or the file is damaged."""
    data = path.read_bytes()
    try:
        shift = int.from_bytes(data[30:32], "little")
        mini_shift = int.from_bytes(data[32:34], "little")
        if not 7 <= shift <= 16 or not 2 <= mini_shift < shift:
            return b""
        ssize = 1 << shift
        sectors = (len(data) - 512) // ssize + 2  # most sectors a chain can visit

        def sector(n: int) -> bytes:
            return data[(n + 1) * ssize : (n + 2) * ssize]

        def u32s(raw: bytes) -> list[int]:
            return [int.from_bytes(raw[i : i + 4], "little") for i in range(0, len(raw), 4)]

        difat = u32s(data[76:512])
        next_difat, seen = int.from_bytes(data[68:72], "little"), 0
        while next_difat < 0xFFFFFFFA and seen < sectors:
            entries = u32s(sector(next_difat))
            difat, next_difat, seen = difat + entries[:-1], entries[-1], seen + 1
        fat = [e for n in difat if n < 0xFFFFFFFA for e in u32s(sector(n))]

        def chain(start: int, table: list[int]) -> Iterator[int]:
            for _ in range(sectors * (1 << (shift - mini_shift))):
                if not 0 <= start < len(table):
                    return
                yield start
                start = table[start]

        def read(start: int) -> bytes:
            return b"".join(sector(n) for n in chain(start, fat))

        directory = read(int.from_bytes(data[48:52], "little"))
        entries = [directory[i : i + 128] for i in range(0, len(directory) - 127, 128)]
        root = entries[0]
        found = {
            e[: int.from_bytes(e[64:66], "little")].decode("utf-16-le", "replace").rstrip("\0"): e
            for e in entries
            if e[66] == 2
        }
        entry = next((found[n] for n in names if n in found), None)
        if entry is None:
            return b""
        start = int.from_bytes(entry[116:120], "little")
        size = int.from_bytes(entry[120:124], "little")
        if size >= int.from_bytes(data[56:60], "little"):
            return read(start)[:size]
        mini_fat = u32s(read(int.from_bytes(data[60:64], "little")))
        mini = read(int.from_bytes(root[116:120], "little"))
        msize = 1 << mini_shift
        return b"".join(mini[n * msize : (n + 1) * msize] for n in chain(start, mini_fat))[:size]
    except IndexError:
        return b""


# --- names ----------------------------------------------------------------------------


def clean_names(headers: Sequence[object]) -> list[str]:
    """Header cells to unique column names: trimmed, control characters (NUL...) made spaces,
    blanks named ``column_N`` (1-based position), duplicates suffixed ``_2``, ``_3``...
    (case-insensitively, as DuckDB); so is ``rowid``, DuckDB's row number, which a column
    of that name would hide (rejected cells are located by it)."""
    names: list[str] = []
    used: set[str] = set(_RESERVED_NAMES)
    for i, header in enumerate(headers):
        text = "".join(" " if ch < " " or ch == "\x7f" else ch for ch in _cell_text(header))
        base = " ".join(text.split()) or f"column_{i + 1}"
        name, n = base, 1
        while name.lower() in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name.lower())
        names.append(name)
    return names


def _cell_text(value: object) -> str:
    """A spreadsheet cell as text: ``3.0`` -> ``3``, dates as ISO, None/NaN -> ``""``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


# --- delimited text -------------------------------------------------------------------


def _load_delimited(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    ext: str,
    table: str,
    overrides: dict[str, str],
    report: Progress,
    materialize: bool = True,
) -> LoadResult:
    """CSV/TSV/TXT: DuckDB reads. Non-UTF-8 text, and text whose line ends are not all LF or
    all CR LF (old Mac CR-only exports, mixed ends), is first rewritten as UTF-8 with LF line
    ends beside it (and then always materialized: the copy is deleted after loading)."""
    with path.open("rb") as f:
        head = f.read(_HEAD_BYTES)
    encoding = _sniff_encoding(path, head)
    if encoding in ("utf-8", "utf-16") and _plain_newlines(_head_text(head, encoding)):
        try:
            return _build_csv(
                con, path, path, ext, encoding, table, overrides, report, materialize, head
            )
        except _NotUtf8:
            encoding = "cp1252"
        except _MixedNewlines:
            pass
    with _utf8_copy(path, encoding) as copy:
        try:
            return _build_csv(con, path, copy, ext, "utf-8", table, overrides, report)
        except (_NotUtf8, _MixedNewlines) as err:
            raise IngestError(f"{path.name} could not be read as CSV.") from err


def _build_csv(
    con: duckdb.DuckDBPyConnection,
    original: Path,
    path: Path,
    ext: str,
    encoding: str,
    table: str,
    overrides: dict[str, str],
    report: Progress,
    materialize: bool = True,
    head: bytes | None = None,
) -> LoadResult:
    """``_build`` over ``read_csv`` of ``path`` (``original`` or a UTF-8 copy of it; ``head``
    its first bytes when read already); a line over ``MAX_LINE_BYTES`` among the lines DuckDB
    sniffs is refused, naming it (further on, such a line is a rejected row)."""
    try:
        if not materialize:
            with suppress(_NoView):
                source = _csv_source(con, original, path, ext, encoding, head=head, head_width=True)
                return _build(con, source, table, overrides, report, materialize)
        source = _csv_source(con, original, path, ext, encoding, head=head)
        return _build(con, source, table, overrides, report, materialize)
    except _LineTooLong:
        raise IngestError(
            f"{original.name}: line {_long_line(path):,} is longer than {MAX_LINE_BYTES:,} "
            "bytes, the most one line may hold."
        ) from None


def _long_line(path: Path) -> int:
    """The number of the first line of ``path`` over ``MAX_LINE_BYTES`` (streamed)."""
    line, length = 1, 0
    with path.open("rb") as f:
        while chunk := f.read(1024**2):
            for k, part in enumerate(chunk.split(b"\n")):
                length = length + len(part) if k == 0 else len(part)
                line += k > 0
                if length > MAX_LINE_BYTES:
                    return line
    return line


def _head_text(head: bytes, encoding: str) -> str:
    """The start of a UTF-8 or UTF-16 file as text (an incomplete last character dropped)."""
    return head.decode("utf-16" if encoding == "utf-16" else "utf-8-sig", errors="ignore")


def _plain_newlines(text: str) -> bool:
    """Whether the lines of ``text`` all end in LF or all in CR LF, outside quoted cells (a
    line break inside quotes is part of the cell: Excel writes LF there in CR LF files)."""
    crlf = text.count("\r\n")
    if text.count("\r") == crlf and (crlf == 0 or text.count("\n") == crlf):
        return True
    outside = "\x00".join(text.split('"')[0::2])  # even parts lie outside quotes
    crlf = outside.count("\r\n")
    bare_cr = outside.count("\r") - crlf
    bare_lf = outside.count("\n") - crlf
    return bare_cr == 0 and (crlf == 0 or bare_lf == 0)


def _unify_newlines(chunks: Iterable[str]) -> Iterator[str]:
    """The text of ``chunks`` with every line end outside quoted cells (CR LF, CR, LF) made
    LF; CR and LF inside quotes are kept. Quotes toggle as in RFC 4180 (``""`` twice)."""
    quoted, carry = False, ""
    for chunk in chunks:
        text, carry = carry + chunk, ""
        if text.endswith("\r"):  # perhaps the CR of a CR LF split between chunks
            text, carry = text[:-1], "\r"
        parts = text.split('"')
        first = 1 if quoted else 0
        parts[first::2] = [p.replace("\r\n", "\n").replace("\r", "\n") for p in parts[first::2]]
        quoted ^= len(parts) % 2 == 0
        yield '"'.join(parts)
    yield carry if quoted else carry.replace("\r", "\n")


def _sniff_encoding(path: Path, head: bytes) -> str:
    """ "utf-8" or "utf-16" (read by DuckDB), or a Python codec to convert from first."""
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be"
    if any(head.startswith(magic) for magic in _MAGIC):
        raise IngestError(f"{path.name} is not a text file{_looks_like(head)}.")
    sample = head[:4096]
    if (
        sample
        and sample.count(b"\x00") > len(sample) // 3
        and sample[1::2].count(0) > len(sample) // 3
    ):
        return "utf-16-le"  # UTF-16 without a byte-order mark
    if b"\x00" in sample:
        raise IngestError(f"{path.name} is not a text file (it contains binary data).")
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        encoding = "utf-8"
    except UnicodeDecodeError:
        text, encoding = head.decode("cp1252", errors="replace"), "cp1252"
    controls = sum(1 for ch in text[:4096] if ch < " " and ch not in "\t\r\n")
    if controls > len(text[:4096]) // 100:
        raise IngestError(f"{path.name} is not a text file (it contains binary data).")
    return encoding


@contextmanager
def _utf8_copy(path: Path, encoding: str) -> Iterator[Path]:
    """A temporary copy of ``path`` in the same folder (which DuckDB may read), in UTF-8 with
    LF line ends (``_unify_newlines``). A file that is not valid UTF-8 after all is read as
    Windows-1252."""
    copy = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.utf8.csv")
    try:
        try:
            _write_utf8(path, copy, encoding)
        except UnicodeDecodeError:
            if encoding != "utf-8":
                raise
            _write_utf8(path, copy, "cp1252")
    except UnicodeDecodeError as err:
        copy.unlink(missing_ok=True)
        raise IngestError(f"{path.name} has text in an encoding that can't be read.") from err
    except OSError as err:
        copy.unlink(missing_ok=True)
        raise IngestError(f"{path.name} could not be converted to UTF-8: {err.strerror}.") from err
    try:
        yield copy
    finally:
        copy.unlink(missing_ok=True)


def _write_utf8(path: Path, copy: Path, encoding: str) -> None:
    """Write ``path``, decoded from ``encoding``, to ``copy`` as UTF-8 with LF line ends."""
    errors = "kpi_latin1" if encoding == "cp1252" else "strict"
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)

    def text() -> Iterator[str]:
        with path.open("rb") as src:
            while chunk := src.read(1024**2):
                yield decoder.decode(chunk)
        yield decoder.decode(b"", final=True)

    with copy.open("wb") as dst:
        for part in _unify_newlines(text()):
            dst.write(part.encode("utf-8"))


def _latin1_fallback(err: UnicodeError) -> tuple[str, int]:
    """cp1252 leaves five bytes undefined: read those as Latin-1 instead of failing."""
    assert isinstance(err, UnicodeDecodeError)
    return err.object[err.start : err.end].decode("latin-1"), err.end


codecs.register_error("kpi_latin1", _latin1_fallback)


def _csv_source(
    con: duckdb.DuckDBPyConnection,
    original: Path,
    path: Path,
    ext: str,
    encoding: str,
    *,
    head: bytes | None = None,
    head_width: bool = False,
) -> _Source:
    """``read_csv`` over ``path``, all VARCHAR, with our delimiter and names.

    DuckDB skips the header line(s) and counts columns from the data rows, so a stray
    delimiter at the end of the header or of every data line does no harm. With
    ``head_width`` the count of the first lines is taken when they all agree on it (for a
    view, whose strict read fails on a row of another width): no sniffing query. ``head``
    is the start of ``path`` when the caller has read it already.
    """
    if head is None:
        with path.open("rb") as f:
            head = f.read(_HEAD_BYTES)
    layout = _sniff_layout(_head_text(head, encoding).lstrip("\ufeff"), ext)
    delimiter, header, header_lines, has_data, uniform = layout
    if not header:
        raise IngestError(f"{original.name} has no header row.")
    if len(head) == _HEAD_BYTES and not _LINE_END.search(_head_text(head, encoding)):
        raise IngestError(
            f"{original.name}: line 1 (the header) is longer than {_megabytes(_HEAD_BYTES)}; "
            "is this a text table?"
        )
    _check_columns(original, len(header))
    if not has_data and len(head) < _HEAD_BYTES:  # a header and no rows: an empty table
        names = clean_names(header)
        empty = ", ".join(f"CAST(NULL AS VARCHAR) AS {quote_ident(n)}" for n in names)
        columns = [(n, n, h) for n, h in zip(names, header, strict=True)]
        return _Source(sql=f"(SELECT {empty} WHERE false)", params={}, columns=columns)
    dialect = (
        "delim = $delim, quote = '\"', escape = '\"', header = false, skip = $skip,"
        f" comment = '', encoding = $encoding, max_line_size = {MAX_LINE_BYTES}"
    )
    options = dialect + ", all_varchar = true"
    params: dict[str, object] = {
        "path": str(path),
        "delim": delimiter,
        "skip": header_lines,
        "encoding": encoding,
    }
    query = f"DESCRIBE SELECT * FROM read_csv($path, {options}, ignore_errors = true)"
    try:
        width = uniform if head_width and uniform else len(_query(con, query, params))
    except duckdb.Error as err:
        raise _csv_failure(err) or IngestError(
            f"{original.name} could not be read as CSV: {_first_line(err)}"
        ) from err
    header = (header + [""] * width)[:width]
    _check_columns(original, width)
    names = clean_names(header)
    # The sample and the view name every column and its type: no sniffing on each bind.
    fixed = f"{dialect}, auto_detect = false, columns = $read_types"
    sample = f"read_csv($path, {fixed}, buffer_size = {_SAMPLE_BUFFER}"
    rejects = f"__kpi_rejects_{uuid.uuid4().hex[:8]}"
    return _Source(
        sql=f"read_csv($path, {options}, names = $names, store_rejects = true,"
        " rejects_table = $rejects_table, rejects_scan = $rejects_scan)",
        params={
            **params,
            "names": names,
            "rejects_table": rejects,
            "rejects_scan": rejects + "_scan",
        },
        columns=[(n, n, h) for n, h in zip(names, header, strict=True)],
        decimal_hint="," if delimiter == ";" else ".",
        sample_sql=f"{sample}, ignore_errors = true)",
        strict_sample_sql=f"{sample})",
        view_sql=f"read_csv($path, {fixed})",
        rejects_table=rejects,
        types=dict.fromkeys(names, "VARCHAR"),
        typed_read=True,
        head_width=head_width and bool(uniform),
    )


def _sniff_layout(text: str, ext: str) -> tuple[str, list[str], int, bool, int | None]:
    """Delimiter, header cells, the number of lines the header takes, whether data rows
    follow it, and their number of fields when every data row read agrees on it.

    The delimiter is the one giving the most columns while the data rows agree on the count.
    """
    ends = [m.start() for m in itertools.islice(_LINE_END.finditer(text), 50)]
    lines = text[: ends[-1]] if len(ends) == 50 else text  # the first 50 lines at most
    preferred = "\t" if ext == "tsv" else ","
    best: tuple[tuple[bool, int], str, list[str], int, bool, int | None]
    best = ((False, 0), preferred, [], 1, False, None)
    for delimiter in sorted(_DELIMITERS, key=lambda d: d != preferred):
        reader = csv.reader(io.StringIO(lines, newline=""), delimiter=delimiter)
        header = next(reader, [])
        header_lines = reader.line_num
        data = [r for r in reader if r]
        width = Counter(len(r) for r in data).most_common(1)[0][0] if data else len(header)
        matching = sum(len(r) == width for r in data)
        agree = matching >= 0.8 * len(data)
        score = (agree and width > 1, width if agree else 1)
        if score > best[0]:
            uniform = width if data and matching == len(data) else None
            best = (score, delimiter, header, header_lines, bool(data), uniform)
    return best[1:]


# --- Parquet --------------------------------------------------------------------------


def _parquet_source(con: duckdb.DuckDBPyConnection, path: Path) -> _Source:
    """``read_parquet``: its types are kept (only mapped onto ours)."""
    params = {"path": str(path)}
    try:
        described = con.execute("DESCRIBE SELECT * FROM read_parquet($path)", params).fetchall()
    except duckdb.Error as err:
        raise IngestError(f"{path.name} is not a readable Parquet file.") from err
    _check_columns(path, len(described))
    originals = [row[0] for row in described]
    names = clean_names(originals)
    # columns renamed by position: a name as written may hold what SQL can't (a NUL)
    renamed = ", ".join(quote_ident(n) for n in names)
    return _Source(
        sql=f"read_parquet($path) AS {quote_ident(_HELPER + '_parquet')}({renamed})",
        params=params,
        columns=[(n, n, o.replace("\x00", " ")) for n, o in zip(names, originals, strict=True)],
        detect=False,
        types={n: row[1] for n, row in zip(names, described, strict=True)},
    )


# --- Excel ----------------------------------------------------------------------------


def _load_excel(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    ext: str,
    table: str,
    sheet: str | None,
    overrides: dict[str, str],
    report: Progress,
) -> LoadResult:
    """Excel via calamine into pandas, typed cells kept, text columns detected as for CSV."""
    import pandas as pd
    import pyarrow as pa

    sheets = list_sheets(path)
    if sheet is not None and sheet not in sheets:
        raise IngestError(f"{path.name} has no sheet {sheet!r}; its sheets: {', '.join(sheets)}.")
    if not sheets:
        raise IngestError(f"{path.name} has no sheets.")
    if ext == "xlsx":
        name = sheet or sheets[0]
        _check_sheet_size(path, name, _xlsx_sheet_size(path, name))
    try:
        frame = pd.read_excel(
            path,
            sheet_name=sheet or sheets[0],
            header=None,
            engine="calamine",
            keep_default_na=False,  # "NA", "None"... are category values in text
            na_values=[""],
        )
    except Exception as err:
        raise IngestError(f"{path.name} could not be read as an Excel workbook.") from err
    frame = frame.dropna(how="all").dropna(axis=1, how="all")
    if frame.empty:
        raise IngestError(f"Sheet {sheet or sheets[0]!r} of {path.name} is empty.")
    _check_columns(path, frame.shape[1])
    headers = [v if isinstance(v, str) else _cell_text(v) for v in frame.iloc[0]]
    positions = [int(c) for c in frame.columns]  # original sheet columns, for column_N
    names = clean_names(
        [h.strip() or f"column_{p + 1}" for h, p in zip(headers, positions, strict=True)]
    )
    arrays, details = [], {}
    for j, name in enumerate(names):
        array, detail = _excel_column(frame.iloc[1:, j].tolist(), name)
        arrays.append(array)
        if detail:
            details[name] = detail
    view = f"__kpi_excel_{uuid.uuid4().hex[:8]}"
    con.register(view, pa.Table.from_arrays(arrays, names=names))
    try:
        source = _Source(
            sql=quote_ident(view),
            params={},
            columns=[(n, n, h) for n, h in zip(names, headers, strict=True)],
            details=details,
        )
        return _build(con, source, table, overrides, report)
    finally:
        con.unregister(view)


def _excel_column(values: list[object], name: str) -> tuple[pa.Array, str]:
    """Typed Arrow array for one sheet column (numbers, dates, booleans), else text.

    Numbers mixed into a date column are Excel serial dates (days since 1899-12-30); so is a
    whole column of whole numbers in the serial range under a header that says "date".
    """
    import pyarrow as pa

    present = [v for v in values if not _blank(v)]
    kinds = {_cell_kind(v) for v in present}
    if not present:
        return pa.array([None] * len(values), pa.string()), ""
    if kinds == {"bool"}:
        return pa.array([None if _blank(v) else bool(v) for v in values], pa.bool_()), ""
    serial_header = "date" in name.lower()
    if kinds == {"number"} and not (
        serial_header and all(float(v).is_integer() and 20_000 <= v <= 80_000 for v in present)
    ):
        if all(float(v).is_integer() and abs(v) < 2**53 for v in present):
            return pa.array([None if _blank(v) else int(v) for v in values], pa.int64()), ""
        return pa.array([None if _blank(v) else float(v) for v in values], pa.float64()), ""
    if kinds <= {"date", "number"}:
        stamps = [None if _blank(v) else _excel_datetime(v) for v in values]
        detail = "Excel serial dates" if "number" in kinds else ""
        if all(s is None or s.time() == time() for s in stamps):
            return pa.array([s and s.date() for s in stamps], pa.date32()), detail
        return pa.array(stamps, pa.timestamp("us")), detail
    return pa.array([None if _blank(v) else _cell_text(v) for v in values], pa.string()), ""


def _blank(value: object) -> bool:
    """None, NaN or pandas' NaT (a ``datetime`` that, like NaN, is unequal to itself)."""
    return value is None or (isinstance(value, float | date) and value != value)


def _cell_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, datetime | date):
        return "date"
    return "text"


def _excel_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime(1899, 12, 30) + timedelta(days=float(value))  # type: ignore[arg-type]


# --- building the table ---------------------------------------------------------------


@dataclass
class _Plan:
    """How one output column is made: its SQL, and the raw text to check for rejects."""

    info: ColumnInfo
    expr: str
    raw: str | None  # VARCHAR expression of the input when conversion can reject cells
    blank_header: bool
    warning: str = ""
    ident: str = ""  # the column in the source
    native: tuple[str, str] | None = None  # a typed read: (type to parse as, expr over it)


def _build(
    con: duckdb.DuckDBPyConnection,
    source: _Source,
    table: str,
    overrides: dict[str, str],
    report: Progress,
    materialize: bool = True,
) -> LoadResult:
    """Sample, decide types, convert in one CREATE TABLE AS, collect rejects, swap in (or,
    with ``materialize=False``, make ``table`` a view of the typed SELECT, unless the file has
    rows the view's strict read refuses: then it is a table after all, with those rows listed)."""
    known = {name for _, name, _ in source.columns}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise IngestError(f"Type override for unknown column {unknown[0]!r}.")
    params = Params()
    params.values.update(source.params)
    tmp = f"__kpi_ingest_{uuid.uuid4().hex[:12]}"
    try:
        report(0.15, "Detecting column types")
        plans = _plan_columns(con, source, overrides, params)
        if not materialize and source.fits:
            try:
                result = _create_view(con, source, table, plans, params)
            except duckdb.Error:  # rows that don't fit the columns: a table lists them
                with suppress(duckdb.Error):
                    con.execute("ROLLBACK")
            else:
                report(1.0, "Ready (a view over the file)")
                return result
        if source.head_width:
            raise _NoView
        report(0.3, "Converting")
        _create(con, source, tmp, plans, params)
        report(0.85, "Checking rejected values")
        skipped, row_rejects = _csv_rejects(con, source)
        result = _finish(con, tmp, plans, skipped, row_rejects)
        con.execute("BEGIN TRANSACTION")
        _drop(con, table)
        con.execute(f"ALTER TABLE {quote_ident(tmp)} RENAME TO {quote_ident(table)}")
        con.execute("COMMIT")
    except BaseException as err:
        with suppress(duckdb.Error):
            con.execute("ROLLBACK")
        with suppress(duckdb.Error):
            con.execute(f"DROP TABLE IF EXISTS {quote_ident(tmp)}")
        if isinstance(err, duckdb.Error):
            failure = _csv_failure(err) if source.typed_read else None
            message = "The file could not be loaded: " + _first_line(err)
            raise failure or IngestError(message) from err
        raise
    finally:
        if source.rejects_table:
            for name in (source.rejects_table, source.rejects_table + "_scan"):
                with suppress(duckdb.Error):
                    con.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
    result.table = table
    report(1.0, f"Loaded {result.rows:,} rows")
    return result


def _drop(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop table or view ``name`` if there is one (DuckDB's DROP TABLE refuses a view)."""
    found = con.execute(
        "SELECT 'VIEW' FROM duckdb_views() WHERE NOT internal AND lower(view_name) = lower($n)"
        " AND schema_name = current_schema() UNION ALL SELECT 'TABLE' FROM duckdb_tables()"
        " WHERE lower(table_name) = lower($n) AND schema_name = current_schema()",
        {"n": name},
    ).fetchall()
    for (kind,) in found:
        con.execute(f"DROP {kind} {quote_ident(name)}")


def _create_view(
    con: duckdb.DuckDBPyConnection,
    source: _Source,
    table: str,
    plans: list[_Plan],
    params: Params,
) -> LoadResult:
    """``table`` as a view: the typed SELECT of ``_create`` without the reject helpers, the
    rows and columns ``_finish`` drops left out (columns with a blank header and no value
    cost one scan of those columns, so only when there are such headers).

    The view reads strictly and without DuckDB's reject log (``view_sql``): each query of the
    view would otherwise write one, so a row that doesn't fit the columns makes the query fail
    instead of vanishing unreported (load a table to get it listed among the rejects).
    DuckDB binds the parameters into the view's SQL as constants.
    """
    sql = source.view_sql or source.sample_sql or source.sql
    exprs = [f"{p.native[1] if p.native else p.expr} AS {quote_ident(p.info.name)}" for p in plans]
    inner = f"SELECT {', '.join(exprs)} FROM {sql}"
    used = _params_in(params.values, inner)
    if source.typed_read:
        used["read_types"] = {p.ident: p.native[0] if p.native else "VARCHAR" for p in plans}
    blank = [p for p in plans if p.blank_header]
    kept = plans
    if blank:
        counts = ", ".join(f"count({quote_ident(p.info.name)})" for p in blank)
        filled = _query(con, f"SELECT {counts} FROM ({inner})", used)[0]
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
        _drop(con, table)
        relation.create_view(table, replace=False)
        con.execute("COMMIT")
    return LoadResult(
        table=table,
        rows=None,
        columns=[p.info for p in kept],
        reject_rows=[],
        warnings=[f"Column {p.info.name!r}: {p.warning}." for p in plans if p.warning],
    )


def _plan_columns(
    con: duckdb.DuckDBPyConnection,
    source: _Source,
    overrides: dict[str, str],
    params: Params,
) -> list[_Plan]:
    """Decide each column's type: text columns from a sample, typed ones mapped to ours."""
    types = source.types
    if types is None:
        query = f"DESCRIBE SELECT * FROM {source.sample_sql or source.sql}"
        types = {row[0]: row[1] for row in _query(con, query, _params_in(source.params, query))}
    text_cols = [
        ident
        for ident, name, _ in source.columns
        if types[ident] == "VARCHAR" and (source.detect or name in overrides)
    ]
    samples = _sample(con, source, text_cols)
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
        plans.append(_Plan(info, expr, raw, not header.strip(), warning, ident, native))
    return plans


def _sample(
    con: duckdb.DuckDBPyConnection, source: _Source, idents: list[str]
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
        return con.execute(query, _params_in(values, query)).fetchall()

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


def _create(
    con: duckdb.DuckDBPyConnection,
    source: _Source,
    tmp: str,
    plans: list[_Plan],
    params: Params,
) -> None:
    """The one scan: converted columns, plus one list column holding, on rows where some
    conversion gave NULL, the text per checked column (NULL elsewhere, so it is cheap).
    Whether that text was merely "NA" is decided later, on those few rows only.
    """
    inner = [f"{p.expr} AS {quote_ident(p.info.name)}" for p in plans]
    outer = [quote_ident(p.info.name) for p in plans]
    failed, rejected = [], []
    for i, plan in enumerate(plans):
        if plan.raw is None:
            continue
        raw = quote_ident(f"{_HELPER}_raw_{i}")
        inner.append(f"{plan.raw} AS {raw}")
        failed.append(f"({quote_ident(plan.info.name)} IS NULL AND {raw} IS NOT NULL)")
        rejected.append(f"CASE WHEN {quote_ident(plan.info.name)} IS NULL THEN {raw} END")
    if failed:
        outer.append(
            f"CASE WHEN {' OR '.join(failed)} THEN [{', '.join(rejected)}]::VARCHAR[] END"
            f" AS {quote_ident(_REJECTS)}"
        )
    query = (
        f"CREATE TABLE {quote_ident(tmp)} AS SELECT {', '.join(outer)} "
        f"FROM (SELECT {', '.join(inner)} FROM {source.sql})"
    )
    try:
        con.execute(query, _params_in(params.values, query))
    except duckdb.Error as err:
        failure = _csv_failure(err) if source.typed_read else None
        raise failure or IngestError("The file could not be read: " + _first_line(err)) from err


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _csv_failure(err: duckdb.Error) -> Exception | None:
    """The loader's own exception for a DuckDB read error it handles (invalid UTF-8, line ends
    that change style, a line over ``MAX_LINE_BYTES``), else None."""
    text = str(err)
    if "unicode" in text.lower():
        return _NotUtf8()
    if "state machine reached an invalid state" in text:
        return _MixedNewlines()
    if "Maximum line size" in text:
        return _LineTooLong()
    return None


def _csv_rejects(con: duckdb.DuckDBPyConnection, source: _Source) -> tuple[list[int], list[dict]]:
    """Rows DuckDB skipped (wrong number of fields...): their line numbers and reject rows."""
    if not source.rejects_table:
        return [], []
    query = (
        "SELECT line, error_type, csv_line, error_message "
        f"FROM {quote_ident(source.rejects_table)} ORDER BY line"
    )
    found = _query(con, query, {})
    if any(error_type in ("INVALID ENCODING", "INVALID UNICODE") for _, error_type, *_ in found):
        raise _NotUtf8
    reasons = {
        "MISSING COLUMNS": "too few fields",
        "TOO MANY COLUMNS": "too many fields",
        "LINE SIZE OVER MAXIMUM": _LONG_LINE,
    }
    rejects = [
        {
            "row": int(line),
            "column": None,
            "value": (csv_line or "")[:200],
            "reason": reasons.get(error_type, error_type.lower())
            + (f" ({message.splitlines()[0]})" if message else ""),
        }
        for line, error_type, csv_line, message in found
    ]
    return sorted({int(line) for line, *_ in found}), rejects


def _finish(
    con: duckdb.DuckDBPyConnection,
    tmp: str,
    plans: list[_Plan],
    skipped: list[int],
    row_rejects: list[dict],
) -> LoadResult:
    """Count and list rejects; drop the helper column, empty columns and empty rows."""
    checked = [i for i, p in enumerate(plans) if p.raw is not None]
    blank = [i for i, p in enumerate(plans) if p.blank_header]
    all_null = " AND ".join(f"{quote_ident(p.info.name)} IS NULL" for p in plans) or "false"
    stats = [
        "count(*)",
        f"count(*) FILTER (WHERE {all_null})",
        *(f"count({quote_ident(plans[i].info.name)})" for i in blank),
    ]
    counts = _query(con, f"SELECT {', '.join(stats)} FROM {quote_ident(tmp)}", {})[0]
    total, empty_rows = counts[0], counts[1]
    filled = dict(zip(blank, counts[2:], strict=True))
    reject_counts = dict.fromkeys(checked, 0)
    helper, params = quote_ident(_REJECTS), Params()
    rejected = f"NOT {missing_sql('v', params)}"  # a cell that isn't blank or NA-like
    if checked:  # only rows where a conversion gave NULL hold the helper list
        query = (
            f"SELECT k, count(*) FROM (SELECT unnest({helper}) AS v,"
            f" generate_subscripts({helper}, 1) AS k FROM {quote_ident(tmp)}"
            f" WHERE {helper} IS NOT NULL) WHERE {rejected} GROUP BY k"
        )
        for k, n in _query(con, query, params.values):
            reject_counts[checked[k - 1]] = n

    warnings = [f"Column {p.info.name!r}: {p.warning}." for p in plans if p.warning]
    long_lines = len({r["row"] for r in row_rejects if r["reason"].startswith(_LONG_LINE)})
    if len(skipped) > long_lines:
        warnings.append(
            f"{len(skipped) - long_lines:,} row(s) were skipped because their number of fields "
            "differs from the header."
        )
    if long_lines:
        warnings.append(
            f"{long_lines:,} row(s) were skipped because their line is longer than "
            f"{MAX_LINE_BYTES:,} bytes."
        )
    for i in checked:
        if reject_counts[i]:
            p = plans[i]
            warnings.append(
                f"{reject_counts[i]:,} value(s) in column {p.info.name!r} could not be read as "
                f"{p.info.dtype} and were left empty."
            )
    rejects = list(row_rejects)
    if any(reject_counts.values()):
        where = (f"len(list_filter({helper}, lambda v: {rejected})) > 0", params)
        rejects += _cell_rejects(con, tmp, [plans[i] for i in checked], skipped, where)

    drop = [_REJECTS] if checked else []
    drop += [plans[i].info.name for i in blank if filled[i] == 0]
    for name in drop:
        con.execute(f"ALTER TABLE {quote_ident(tmp)} DROP COLUMN {quote_ident(name)}")
    kept = [p for i, p in enumerate(plans) if filled.get(i) != 0]
    if empty_rows:
        kept_null = " AND ".join(f"{quote_ident(p.info.name)} IS NULL" for p in kept)
        con.execute(f"DELETE FROM {quote_ident(tmp)} WHERE {kept_null}")
    return LoadResult(
        table=tmp,
        rows=total - empty_rows,
        columns=[p.info for p in kept],
        reject_rows=sorted(rejects, key=lambda r: r["row"])[:MAX_REJECTS_LISTED],
        warnings=warnings,
    )


def _cell_rejects(
    con: duckdb.DuckDBPyConnection,
    tmp: str,
    checked: list[_Plan],
    skipped: list[int],
    where: tuple[str, Params],
) -> list[dict]:
    """The first rejected cells with their spreadsheet row number (header = row 1).

    ``where`` is the SQL condition (and its parameters) "this row has a rejected cell".
    """
    query = (
        f"SELECT rowid, {quote_ident(_REJECTS)} FROM {quote_ident(tmp)} WHERE {where[0]} "
        f"ORDER BY rowid LIMIT {MAX_REJECTS_LISTED}"
    )
    found = []
    for rowid, values in _query(con, query, where[1].values):
        row = _spreadsheet_row(rowid, skipped)
        for plan, value in zip(checked, values, strict=True):
            if value is not None and not is_missing(value):
                reason = f"not a valid {plan.info.dtype}"
                found.append(
                    {"row": row, "column": plan.info.name, "value": value, "reason": reason}
                )
    return found


def _spreadsheet_row(rowid: int, skipped: list[int]) -> int:
    """Row number as a spreadsheet shows it, counting the rows DuckDB skipped before it."""
    row = rowid + 2
    for line in skipped:
        if line <= row:
            row += 1
        else:
            break
    return row


def _params_in(values: dict[str, object], sql: str) -> dict[str, object]:
    """The parameters of ``values`` that ``sql`` uses (DuckDB refuses unused named ones)."""
    used = set(re.findall(r"\$(\w+)", sql))
    return {k: v for k, v in values.items() if k in used}


def _query(con: duckdb.DuckDBPyConnection, query: str, params: dict[str, object]) -> list[tuple]:
    return con.execute(query, params).fetchall()
