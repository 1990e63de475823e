"""Exports of scored results (CSV, Excel) and charts (PNG), safe to open in a spreadsheet."""

from __future__ import annotations

import io

import pandas as pd
import vl_convert

from kpi_logic import charts

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``)
    with a quote, so ``=HYPERLINK(...)`` in a category name stays text."""

    def safe(value: object) -> object:
        if isinstance(value, str) and value.startswith(FORMULA_STARTS):
            return "'" + value
        return value

    result = frame.copy()
    for column in result.columns:
        if result[column].dtype == object or pd.api.types.is_string_dtype(result[column]):
            result[column] = result[column].map(safe)
    result.columns = [safe(str(c)) for c in result.columns]
    return result


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV (UTF-8 with BOM so Excel reads accents right) of ``frame``, formulas neutralized."""
    return neutralize(frame).to_csv(index=False).encode("utf-8-sig")


def to_excel_bytes(frame: pd.DataFrame, sheet_name: str = "KPIs") -> bytes:
    """An .xlsx workbook of ``frame``, formulas neutralized and never written as formulas."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(
        buffer,
        engine="xlsxwriter",
        engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False}},
    ) as writer:
        neutralize(frame).to_excel(writer, sheet_name=sheet_name, index=False)
    return buffer.getvalue()


def chart_png(chart: charts.Spec, scale: float = 2.0) -> bytes:
    """Render a chart of ``kpi_logic.charts`` to PNG offline (vl-convert)."""
    return vl_convert.vegalite_to_png(charts.to_json(chart), scale=scale)
