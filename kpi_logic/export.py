"""Exports of scored results (CSV, Excel) and charts (PNG), safe to open in a spreadsheet.

:func:`safe_cell` is the one rule for formula cells; the app's exports and the command line's
CSV use it. pandas, vl-convert and the chart builders are imported by the functions that need
them, so the command line can use :func:`safe_cell` without them.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from kpi_logic.charts import Spec

FORMULA_STARTS = ("=", "+", "-", "@")
_PLAIN_NUMBER = re.compile(r"-\d+(\.\d+)?([eE][-+]?\d+)?")


def safe_cell(value: object) -> object:
    """``value`` as a spreadsheet should show it: text that it would run as a formula (starting
    with ``=``, ``+``, ``-`` or ``@``, also after spaces or line breaks, or starting with a tab
    or CR) gets a leading quote; a negative number written as text (``-12.5``), numbers and
    other values are returned unchanged.

    >>> safe_cell(' =HYPERLINK("http://x")'), safe_cell("-12.5"), safe_cell(-3.0)
    ('\\' =HYPERLINK("http://x")', '-12.5', -3.0)
    """
    if not isinstance(value, str) or _PLAIN_NUMBER.fullmatch(value):
        return value
    if value.startswith(("\t", "\r")) or value.lstrip(" \t\r\n").startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralize(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names went through :func:`safe_cell`,
    so ``=HYPERLINK(...)`` in a category name stays text."""
    import pandas as pd

    result = frame.copy()
    for column in result.columns:
        if result[column].dtype == object or pd.api.types.is_string_dtype(result[column]):
            result[column] = result[column].map(safe_cell)
    result.columns = [safe_cell(str(c)) for c in result.columns]
    return result


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV (UTF-8 with BOM so Excel reads accents right) of ``frame``, formulas neutralized.
    Rows end in CRLF, so a cell holding a lone CR is quoted too: unquoted, a spreadsheet
    starts a new row there, and the text after it (``=...``) would be a cell of its own."""
    return neutralize(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def to_excel_bytes(frame: pd.DataFrame, sheet_name: str = "KPIs") -> bytes:
    """An .xlsx workbook of ``frame``, formulas neutralized and never written as formulas."""
    import pandas as pd

    buffer = io.BytesIO()
    with pd.ExcelWriter(
        buffer,
        engine="xlsxwriter",
        engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False}},
    ) as writer:
        neutralize(frame).to_excel(writer, sheet_name=sheet_name, index=False)
    return buffer.getvalue()


def chart_png(chart: Spec, scale: float = 2.0) -> bytes:
    """Render a chart of ``kpi_logic.charts`` to PNG offline (vl-convert)."""
    import vl_convert

    from kpi_logic import charts

    return vl_convert.vegalite_to_png(charts.to_json(chart), scale=scale)
