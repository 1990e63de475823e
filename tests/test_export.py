"""Exports open safely in a spreadsheet: formulas neutralized, numbers kept, PNG renders."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd

from kpi_logic import export

HOSTILE = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "West", "\tTab"]


def frame() -> pd.DataFrame:
    return pd.DataFrame({"category": HOSTILE, "actual": [1.5, -2.0, 3.0, 4.0, 5.0, 6.0]})


def test_csv_neutralizes_formula_cells_and_keeps_numbers() -> None:
    text = export.to_csv_bytes(frame()).decode("utf-8-sig")
    back = pd.read_csv(io.StringIO(text))
    expected = [("'" + c) if c[0] in "=+-@\t" else c for c in HOSTILE]
    assert list(back["category"]) == expected
    assert list(back["actual"]) == [1.5, -2.0, 3.0, 4.0, 5.0, 6.0]


def test_excel_cells_are_text_not_formulas() -> None:
    book = openpyxl.load_workbook(io.BytesIO(export.to_excel_bytes(frame())))
    sheet = book.active
    cells = [row[0].value for row in sheet.iter_rows(min_row=2)]
    assert all(not str(c).startswith("=") for c in cells)
    assert cells[0] == "'" + HOSTILE[0]
    assert all(row[0].data_type == "s" for row in sheet.iter_rows(min_row=2))
    assert [row[1].value for row in sheet.iter_rows(min_row=2)] == [1.5, -2, 3, 4, 5, 6]


def test_chart_png_is_a_png_of_the_chart() -> None:
    chart = {  # a Vega-Lite spec whose data set is a DataFrame, as kpi_logic.charts makes them
        "data": {"name": "rows"},
        "mark": "bar",
        "encoding": {"x": {"field": "category", "type": "nominal"},
                     "y": {"field": "actual", "type": "quantitative"}},
        "datasets": {"rows": frame()},
    }  # fmt: skip
    png = export.chart_png(chart)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    assert width > 100
