"""Excel workbooks (.xlsx, .xls) through calamine into pandas, then Arrow: typed cells kept,
text columns typed by the build as for CSV. The sheet's size is checked first."""

from __future__ import annotations

import os
import uuid
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from kpi_logic.errors import IngestError
from kpi_logic.ingest.build import build
from kpi_logic.ingest.checks import (
    MAX_EXCEL_BYTES,
    check_columns,
    check_file,
    check_workbook,
    extension,
)
from kpi_logic.ingest.names import cell_text, clean_names
from kpi_logic.ingest.result import LoadResult
from kpi_logic.ingest.sheet_size import check_sheet_size, xlsx_sheet_size
from kpi_logic.ingest.source import Progress, Source, SourceColumn
from kpi_logic.ingest.xls import xls_sheet_sizes
from kpi_logic.sql import quote_ident

if TYPE_CHECKING:
    import pyarrow as pa


def list_sheets(path: str | os.PathLike[str]) -> list[str]:
    """Sheet names of an Excel workbook, in order; ``[]`` for other file types."""
    path = Path(path)
    ext = extension(path)
    if ext not in ("xlsx", "xls"):
        return []
    check_file(path, MAX_EXCEL_BYTES)
    check_workbook(path, ext)
    if ext == "xls":
        _check_xls_sheets(path)
    import pandas as pd

    try:
        return [str(name) for name in pd.ExcelFile(path, engine="calamine").sheet_names]
    except Exception as err:
        raise IngestError(f"{path.name} could not be opened as an Excel workbook.") from err


def _check_xls_sheets(path: Path) -> None:
    """Refuse an .xls whose sheets can't be read here or one over a size limit (the reader
    reads every sheet on opening, whichever is loaded)."""
    sizes = xls_sheet_sizes(path)
    if not sizes:  # what can't be read here can't be checked
        raise IngestError(f"{path.name} is damaged (no sheets could be read in it).")
    for name, size in sizes:
        check_sheet_size(path, name, size)


def load_excel(
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
        check_sheet_size(path, name, xlsx_sheet_size(path, name))
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
    check_columns(path, frame.shape[1])
    headers = [v if isinstance(v, str) else cell_text(v) for v in frame.iloc[0]]
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
        source = Source(
            sql=quote_ident(view),
            params={},
            columns=[SourceColumn(n, n, h) for n, h in zip(names, headers, strict=True)],
            details=details,
        )
        return build(con, source, table, overrides, report)
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
    if kinds == {"number"}:
        cells = [v if isinstance(v, int | float) and not _blank(v) else None for v in values]
        numbers = [float(v) for v in cells if v is not None]
        serial = "date" in name.lower() and all(
            n.is_integer() and 20_000 <= n <= 80_000 for n in numbers
        )
        if not serial and all(n.is_integer() and abs(n) < 2**53 for n in numbers):
            return pa.array([None if v is None else int(v) for v in cells], pa.int64()), ""
        if not serial:
            return pa.array([None if v is None else float(v) for v in cells], pa.float64()), ""
    if kinds <= {"date", "number"}:
        stamps = [None if _blank(v) else _excel_datetime(v) for v in values]
        detail = "Excel serial dates" if "number" in kinds else ""
        if all(s is None or s.time() == time() for s in stamps):
            return pa.array([s and s.date() for s in stamps], pa.date32()), detail
        return pa.array(stamps, pa.timestamp("us")), detail
    return pa.array([None if _blank(v) else cell_text(v) for v in values], pa.string()), ""


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
    if isinstance(value, int | float):  # an Excel serial date: days since 1899-12-30
        return datetime(1899, 12, 30) + timedelta(days=float(value))
    raise TypeError(f"not a date or a number: {value!r}")
