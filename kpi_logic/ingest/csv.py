"""The CSV source (CSV, TSV, TXT): DuckDB's ``read_csv`` with our delimiter, header and
names, all VARCHAR; typed from a sample by the build. Files DuckDB can't read as they are
(other encodings, CR or mixed line ends) are read from a UTF-8 copy with LF line ends."""

from __future__ import annotations

import uuid
from contextlib import suppress
from pathlib import Path

import duckdb

from kpi_logic.errors import IngestError
from kpi_logic.ingest.build import build
from kpi_logic.ingest.checks import check_columns, megabytes
from kpi_logic.ingest.names import clean_names
from kpi_logic.ingest.result import LoadResult
from kpi_logic.ingest.source import (
    CsvReads,
    LineTooLong,
    MixedNewlines,
    NotUtf8,
    Progress,
    Source,
    SourceColumn,
    ViewRefused,
    fetch_all,
    first_line,
    read_failure,
)
from kpi_logic.ingest.text import (
    LINE_END,
    MAX_LINE_BYTES,
    head_text,
    long_line,
    plain_newlines,
    sniff_encoding,
    sniff_layout,
    utf8_copy,
)
from kpi_logic.sql import quote_ident

HEAD_BYTES = 1024**2  # start of a text file read for encoding, delimiter and header
# CSV buffer of the sample read: DuckDB's default (16x its 2 MB max_line_size) would read
# 32 MB for a few thousand rows; this one still holds the longest line DuckDB accepts.
_SAMPLE_BUFFER = 2 * 1024**2


def load_delimited(
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
        head = f.read(HEAD_BYTES)
    encoding = sniff_encoding(path, head)
    if encoding in ("utf-8", "utf-16") and plain_newlines(head_text(head, encoding)):
        try:
            return _build_csv(
                con, path, path, ext, encoding, table, overrides, report, materialize, head
            )
        except NotUtf8:
            encoding = "cp1252"
        except MixedNewlines:
            pass
    with utf8_copy(path, encoding) as copy:
        try:
            return _build_csv(con, path, copy, ext, "utf-8", table, overrides, report)
        except (NotUtf8, MixedNewlines) as err:
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
    """``build`` over ``read_csv`` of ``path`` (``original`` or a UTF-8 copy of it; ``head``
    its first bytes when read already); a line over ``MAX_LINE_BYTES`` among the lines DuckDB
    sniffs is refused, naming it (further on, such a line is a rejected row)."""
    try:
        if not materialize:  # a view over the columns of the first lines: no sniffing query
            quick = csv_source(con, original, path, ext, encoding, head=head, width_from_head=True)
            with suppress(ViewRefused):
                return build(con, quick, table, overrides, report, materialize)
        source = csv_source(con, original, path, ext, encoding, head=head)
        return build(con, source, table, overrides, report, materialize)
    except LineTooLong:
        raise IngestError(
            f"{original.name}: line {long_line(path):,} is longer than {MAX_LINE_BYTES:,} "
            "bytes, the most one line may hold."
        ) from None


def csv_source(
    con: duckdb.DuckDBPyConnection,
    original: Path,
    path: Path,
    ext: str,
    encoding: str,
    *,
    head: bytes | None = None,
    width_from_head: bool = False,
) -> Source:
    """``read_csv`` over ``path``, all VARCHAR, with our delimiter and names.

    DuckDB skips the header line(s) and counts columns from the data rows, so a stray
    delimiter at the end of the header or of every data line does no harm. With
    ``width_from_head`` the count of the first lines is taken when they all agree on it (for a
    view, whose strict read fails on a row of another width): no sniffing query. ``head``
    is the start of ``path`` when the caller has read it already.
    """
    if head is None:
        with path.open("rb") as f:
            head = f.read(HEAD_BYTES)
    layout = sniff_layout(head_text(head, encoding).lstrip("\ufeff"), ext)
    delimiter, header, header_lines, has_data, uniform = layout
    if not header:
        raise IngestError(f"{original.name} has no header row.")
    if len(head) == HEAD_BYTES and not LINE_END.search(head_text(head, encoding)):
        raise IngestError(
            f"{original.name}: line 1 (the header) is longer than {megabytes(HEAD_BYTES)}; "
            "is this a text table?"
        )
    check_columns(original, len(header))
    if not has_data and len(head) < HEAD_BYTES:  # a header and no rows: an empty table
        names = clean_names(header)
        empty = ", ".join(f"CAST(NULL AS VARCHAR) AS {quote_ident(n)}" for n in names)
        columns = [SourceColumn(n, n, h) for n, h in zip(names, header, strict=True)]
        return Source(sql=f"(SELECT {empty} WHERE false)", params={}, columns=columns)
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
        width = uniform if width_from_head and uniform else len(fetch_all(con, query, params))
    except duckdb.Error as err:
        raise read_failure(err) or IngestError(
            f"{original.name} could not be read as CSV: {first_line(err)}"
        ) from err
    header = (header + [""] * width)[:width]
    check_columns(original, width)
    names = clean_names(header)
    # The sample and the view name every column and its type: no sniffing on each bind.
    fixed = f"{dialect}, auto_detect = false, columns = $read_types"
    sample = f"read_csv($path, {fixed}, buffer_size = {_SAMPLE_BUFFER}"
    rejects = f"__kpi_rejects_{uuid.uuid4().hex[:8]}"
    return Source(
        sql=f"read_csv($path, {options}, names = $names, store_rejects = true,"
        " rejects_table = $rejects_table, rejects_scan = $rejects_scan)",
        params={
            **params,
            "names": names,
            "rejects_table": rejects,
            "rejects_scan": rejects + "_scan",
        },
        columns=[SourceColumn(n, n, h) for n, h in zip(names, header, strict=True)],
        types=dict.fromkeys(names, "VARCHAR"),
        decimal_hint="," if delimiter == ";" else ".",
        csv=CsvReads(
            strict_sample=f"{sample})",
            lenient_sample=f"{sample}, ignore_errors = true)",
            view=f"read_csv($path, {fixed})",
            rejects_table=rejects,
            width_from_head=width_from_head and bool(uniform),
        ),
    )
