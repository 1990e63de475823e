"""A dataset table read for display: its first rows, a date column's span, a category column's
values. Identifiers go through ``quote_ident``; limits are bound parameters."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import duckdb

from kpi_logic import formats
from kpi_logic.sql import quote_ident

if TYPE_CHECKING:
    import pandas as pd

MAX_CATEGORY_VALUES = 500


def preview(con: duckdb.DuckDBPyConnection, table: str, rows: int) -> pd.DataFrame:
    """The first ``rows`` rows of ``table``, dates without a time of day shown as dates
    (``formats.dates_as_days``)."""
    frame = con.execute(f"SELECT * FROM {quote_ident(table)} LIMIT ?", [rows]).df()
    return formats.dates_as_days(frame)


def date_span(con: duckdb.DuckDBPyConnection, table: str, column: str) -> tuple[date, date] | None:
    """The first and last day in a date column, None when it holds no date."""
    col = quote_ident(column)
    row = con.execute(
        f"SELECT min({col})::DATE, max({col})::DATE FROM {quote_ident(table)}"
    ).fetchone()
    return None if row is None or row[0] is None else (row[0], row[1])


def category_values(
    con: duckdb.DuckDBPyConnection, table: str, column: str, limit: int = MAX_CATEGORY_VALUES
) -> list[str]:
    """The distinct values of a column as text, sorted, at most ``limit`` of them."""
    rows = con.execute(
        f"SELECT DISTINCT {quote_ident(column)}::VARCHAR AS v FROM {quote_ident(table)} "
        "WHERE v IS NOT NULL ORDER BY v LIMIT ?",
        [limit],
    ).fetchall()
    return [row[0] for row in rows]
