"""What every reader hands to the build: a relation to load from (a *source*; a CSV source
also has its typed reads), and the exceptions by which a CSV read reports what its caller
handles (a retry from a UTF-8 copy, a view refused, a line too long)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import duckdb

Progress = Callable[[float, str], None]
HELPER = f"__kpi_{uuid.uuid4().hex[:6]}"  # prefix of helper columns: can't meet a user's


class SourceColumn(NamedTuple):
    """One column of a source."""

    ident: str  # its identifier in the relation
    name: str  # the clean name it gets
    header: str  # the name as written in the file


class CsvReads(NamedTuple):
    """The reads of a CSV source besides ``Source.sql`` (which skips rows that don't fit the
    columns and logs them in ``rejects_table``). These log nothing and sniff nothing: each
    takes ``$read_types``, a DuckDB type per column."""

    strict_sample: str  # the sample as the view reads it: a row that doesn't fit fails it
    lenient_sample: str  # the sample skipping such rows, read when the strict one failed
    view: str  # the view's read, strict too
    rejects_table: str  # DuckDB's reject log of ``Source.sql``, dropped after the build
    # The columns were counted on the first lines, not by DuckDB: right for a view (whose
    # strict read fails on a row of another width), while a table needs DuckDB's count.
    width_from_head: bool = False


@dataclass
class Source:
    """A relation to load from: SQL text for FROM, its parameters, and its columns."""

    sql: str
    params: dict[str, object]
    columns: list[SourceColumn]
    types: dict[str, str] | None = None  # DuckDB type per column, when known without a query
    detect_types: bool = True  # VARCHAR columns are typed from a sample (Parquet's are not)
    decimal_hint: str = "."  # the decimal separator the file's numbers most likely use
    details: dict[str, str] = field(default_factory=dict)  # name -> how a column was typed
    csv: CsvReads | None = None  # a CSV file read by DuckDB (not an empty or Arrow one)


class NotUtf8(Exception):
    """A file that looked like UTF-8 has invalid bytes further on."""


class LineTooLong(Exception):
    """DuckDB met a line over ``MAX_LINE_BYTES`` where it can't skip it (while sniffing)."""


class MixedNewlines(Exception):
    """DuckDB's reader met line ends other than those it started with (a copy with LF only
    reads)."""


class ViewRefused(Exception):
    """No view could be made over a CSV source whose columns were counted on its first
    lines: the caller counts them with DuckDB for the table (``CsvReads.width_from_head``)."""


def first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def read_failure(err: duckdb.Error) -> Exception | None:
    """The loader's own exception for a DuckDB read error it handles (invalid UTF-8, line ends
    that change style, a line over ``MAX_LINE_BYTES``), else None."""
    text = str(err)
    if "unicode" in text.lower():
        return NotUtf8()
    if "state machine reached an invalid state" in text:
        return MixedNewlines()
    if "Maximum line size" in text:
        return LineTooLong()
    return None


def params_in(values: dict[str, object], sql: str) -> dict[str, object]:
    """The parameters of ``values`` that ``sql`` uses (DuckDB refuses unused named ones)."""
    used = set(re.findall(r"\$(\w+)", sql))
    return {k: v for k, v in values.items() if k in used}


def fetch_all(con: duckdb.DuckDBPyConnection, query: str, params: dict[str, object]) -> list[tuple]:
    return con.execute(query, params).fetchall()
