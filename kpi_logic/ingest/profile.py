"""``profile_table``: what a loaded table holds, per column, from one scan."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import duckdb

from kpi_logic.errors import IngestError
from kpi_logic.ingest_types import logical_type
from kpi_logic.sql import quote_ident

if TYPE_CHECKING:
    import pandas as pd


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
        values: Sequence[Any] = []  # a row of DuckDB values
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
