"""What every reader hands to the build: a relation to load from (a *source*), and the
exceptions by which a CSV read reports what its caller handles (a retry from a UTF-8 copy, a
refused view, a line too long)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

Progress = Callable[[float, str], None]
HELPER = f"__kpi_{uuid.uuid4().hex[:6]}"  # prefix of helper columns: can't meet a user's


@dataclass
class Source:
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


class NotUtf8(Exception):
    """A file that looked like UTF-8 has invalid bytes further on."""


class LineTooLong(Exception):
    """DuckDB met a line over ``MAX_LINE_BYTES`` where it can't skip it (while sniffing)."""


class MixedNewlines(Exception):
    """DuckDB's reader met line ends other than those it started with (a copy with LF only
    reads)."""


class NoView(Exception):
    """No view over a source counted on its first lines: a table needs DuckDB's count."""


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
