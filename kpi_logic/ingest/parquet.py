"""The Parquet source: ``read_parquet``, its types kept."""

from __future__ import annotations

from pathlib import Path

import duckdb

from kpi_logic.errors import IngestError
from kpi_logic.ingest.build import build
from kpi_logic.ingest.checks import check_columns
from kpi_logic.ingest.names import clean_names
from kpi_logic.ingest.result import LoadResult
from kpi_logic.ingest.source import HELPER, Progress, Source, SourceColumn
from kpi_logic.sql import quote_ident


def load_parquet(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    overrides: dict[str, str],
    report: Progress,
    materialize: bool,
) -> LoadResult:
    """``build`` over the Parquet file (a view of it with ``materialize=False``)."""
    return build(con, parquet_source(con, path), table, overrides, report, materialize)


def parquet_source(con: duckdb.DuckDBPyConnection, path: Path) -> Source:
    """``read_parquet``: its types are kept (only mapped onto ours)."""
    params: dict[str, object] = {"path": str(path)}
    try:
        described = con.execute("DESCRIBE SELECT * FROM read_parquet($path)", params).fetchall()
    except duckdb.Error as err:
        raise IngestError(f"{path.name} is not a readable Parquet file.") from err
    check_columns(path, len(described))
    originals = [row[0] for row in described]
    names = clean_names(originals)
    # columns renamed by position: a name as written may hold what SQL can't (a NUL)
    renamed = ", ".join(quote_ident(n) for n in names)
    return Source(
        sql=f"read_parquet($path) AS {quote_ident(HELPER + '_parquet')}({renamed})",
        params=params,
        columns=[
            SourceColumn(n, n, o.replace("\x00", " "))
            for n, o in zip(names, originals, strict=True)
        ],
        detect_types=False,
        types={n: row[1] for n, row in zip(names, described, strict=True)},
    )
