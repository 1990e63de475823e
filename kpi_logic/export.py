"""Exports of scored results (CSV, Excel) and charts (PNG, SVG), safe to open in a spreadsheet.

:func:`safe_cell` is the one rule for formula cells; the app's exports and the command line's
CSV use it. ``COLUMN_TITLES`` is the one mapping from the engine's record keys to the column
names people read. Excel keeps full precision and shows each value in its KPI's unit (a number
format per cell: KPIs differ in unit); the CSV rounds to the precision the app shows
(:func:`shown`). pandas, XlsxWriter, vl-convert and the chart builders are imported by the
functions that need them, so the command line can use :func:`safe_cell` without them.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from kpi_logic.charts import Spec
    from kpi_logic.model import KPI

FORMULA_STARTS = ("=", "+", "-", "@")
_PLAIN_NUMBER = re.compile(r"-\d+(\.\d+)?([eE][-+]?\d+)?")

# record key -> column title, in the order the exports write them
COLUMN_TITLES = {
    "kpi": "KPI",
    "category": "Category",
    "period": "Period",
    "actual": "Actual",
    "target": "Target",
    "attainment": "Attainment",
    "status": "Status",
    "previous": "Previous period",
    "change": "Change vs previous",
    "change_pct": "Change vs previous (%)",
    "allocated": "Categories' targets added up",
    "unit": "Unit",
    "as_of": "Data up to",
}
VALUE_KEYS = ("actual", "target", "previous", "change", "allocated")  # in the KPI's unit
SHARE_KEYS = ("attainment", "change_pct")  # shares: 0.864 is 86.4%
SHARE_DIGITS = {"attainment": 0, "change_pct": 1}  # decimals of their percent, as shown
DATE_KEYS = ("period", "as_of")
ALL_CATEGORIES = "All categories"  # the category of a KPI's all-categories row
CSV_PERCENT = " (%)"  # a CSV column title's suffix where shares are written as percents
SHEET_NAME_LIMIT = 31  # Excel's
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
_RESERVED_SHEET_NAMES = {"history"}  # Excel keeps it for itself
_DATE_FORMATS = {"month": "mmm yyyy", "year": "yyyy"}  # Excel date formats by grain
EXPORT_WIDTH = 900  # px: a chart's width in an exported image (its plot area)
EXPORT_SCALE = 2.0  # PNG pixels per px: sharp on a projector and a high-density screen
EXPORT_CONFIG: dict[str, Any] = {  # readable text in an exported chart; fonts on this machine
    "font": "DejaVu Sans",
    "background": "white",
    "title": {"fontSize": 20, "subtitleFontSize": 14, "anchor": "start", "offset": 12},
    "axis": {"labelFontSize": 13, "titleFontSize": 14, "labelLimit": 260},
    "legend": {"labelFontSize": 13, "titleFontSize": 14},
    "text": {"font": "DejaVu Sans"},
}


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
        if result[column].dtype == object:  # kept as it is: map() would make 1 and None floats
            cells = [safe_cell(v) for v in result[column]]
            result[column] = pd.Series(cells, index=result.index, dtype=object)
        elif pd.api.types.is_string_dtype(result[column]):
            result[column] = result[column].map(safe_cell)
    result.columns = [safe_cell(str(c)) for c in result.columns]
    return result


def shown(value: object, unit: str) -> float | int | None:
    """``value`` at the precision the app shows it (``charts.format_value`` without the K/M
    shortening): a percent to 0.1 point (as a percent), other values whole from 100 up and to
    0.01 below; missing or infinite is None.

    >>> shown(14236.894999999999, "currency"), shown(4.214, "number"), shown(0.1254, "percent")
    (14237, 4.21, 12.5)
    """
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    if unit == "percent":
        return round(value * 100, 1)
    return int(round(value)) if abs(value) >= 100 else round(value, 2)


def shown_share(value: object, key: str) -> float | int | None:
    """A share (``SHARE_KEYS``) as a percent at the precision the app shows it: attainment
    whole (``86%`` on a card), a change to 0.1 point; missing or infinite is None.

    >>> shown_share(0.8642, "attainment"), shown_share(-0.0349, "change_pct")
    (86, -3.5)
    """
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    digits = SHARE_DIGITS[key]
    return int(round(value * 100)) if digits == 0 else round(value * 100, digits)


def unit_sign(unit: str, symbol: str = "$") -> str:
    """What a value of ``unit`` is counted in: the currency ``symbol``, ``%`` or nothing."""
    return {"currency": symbol, "percent": "%"}.get(unit, "")


def result_rows(
    kpis: Sequence[KPI], results: Sequence[Mapping[str, Any]], symbol: str = "$"
) -> list[dict[str, Any]]:
    """The scored ``results`` (``score.score_records``) as export rows keyed like
    ``COLUMN_TITLES``, full precision: the all-categories row of a KPI with ``by`` is
    ``ALL_CATEGORIES``, NaN and infinite numbers are None, ``unit`` is :func:`unit_sign`."""
    by_name = {k.name: k for k in kpis}
    rows = []
    for record in results:
        kpi = by_name[record["kpi"]]
        row: dict[str, Any] = {key: record.get(key) for key in COLUMN_TITLES}
        if row["category"] is None:
            row["category"] = ALL_CATEGORIES if kpi.by else None
        for key in (*VALUE_KEYS, *SHARE_KEYS):
            value = row[key]
            row[key] = (
                float(value) if isinstance(value, int | float) and math.isfinite(value) else None
            )
        row["unit"] = unit_sign(kpi.unit, symbol)
        rows.append(row)
    return rows


def results_csv(
    kpis: Sequence[KPI], results: Sequence[Mapping[str, Any]], symbol: str = "$"
) -> bytes:
    """The scored ``results`` as CSV: readable column names, values rounded as the app shows
    them (:func:`shown`; percents and shares as percents, in columns titled ``... (%)``), dates
    as ISO dates, formulas neutralized."""
    import pandas as pd

    units = {k.name: k.unit for k in kpis}
    rows = []
    for row in result_rows(kpis, results, symbol):
        unit = units[row["kpi"]]
        out = dict(row)
        for key in VALUE_KEYS:
            out[key] = shown(row[key], unit)
        for key in SHARE_KEYS:
            out[key] = shown_share(row[key], key)
        for key in DATE_KEYS:
            out[key] = row[key].isoformat() if isinstance(row[key], date) else None
        rows.append(out)
    titles = [_csv_title(key) for key in COLUMN_TITLES]
    frame = pd.DataFrame([list(r.values()) for r in rows], columns=titles, dtype=object)
    return to_csv_bytes(frame)


def _csv_title(key: str) -> str:
    """The CSV's title of ``key``: a share's title says it is in percent."""
    title = COLUMN_TITLES[key]
    return title + CSV_PERCENT if key in SHARE_KEYS and not title.endswith(CSV_PERCENT) else title


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV (UTF-8 with BOM so Excel reads accents right) of ``frame``, formulas neutralized.
    Rows end in CRLF, so a cell holding a lone CR is quoted too: unquoted, a spreadsheet
    starts a new row there, and the text after it (``=...``) would be a cell of its own."""
    return neutralize(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


@dataclass(frozen=True)
class Sheet:
    """One KPI set's results for a workbook: a sheet named ``name``."""

    name: str
    kpis: Sequence[KPI]
    results: Sequence[Mapping[str, Any]]
    symbol: str = "$"  # the KPI set's currency symbol


def sheet_names(names: Sequence[str]) -> list[str]:
    """Names Excel takes for sheets, one per name and in order: ``[]:*?/\\`` and control
    characters made spaces, at most 31 characters, not ``History``, never empty, no two
    alike (Excel compares them ignoring case; a repeat gets `` (2)``).

    >>> sheet_names(["Q1/Q2 [draft]", "q1 q2 draft", "", "History"])
    ['Q1 Q2 draft', 'q1 q2 draft (2)', 'Sheet', 'History (2)']
    """
    taken: set[str] = set()
    out = []
    for name in names:
        base = " ".join(_SHEET_FORBIDDEN.sub(" ", name).split()).strip("'")
        base = base[:SHEET_NAME_LIMIT].rstrip().strip("'") or "Sheet"
        candidate, n = base, 1
        while candidate.casefold() in taken or candidate.casefold() in _RESERVED_SHEET_NAMES:
            n += 1
            suffix = f" ({n})"
            candidate = base[: SHEET_NAME_LIMIT - len(suffix)].rstrip() + suffix
        taken.add(candidate.casefold())
        out.append(candidate)
    return out


def value_format(unit: str, symbol: str = "$", *, whole: bool = False) -> str:
    """Excel's number format of a value of ``unit``: ``"$"#,##0.00``, ``0.0%``, ``#,##0``
    (``whole``: no decimals, for a KPI whose values are all whole numbers).

    >>> value_format("currency", "€"), value_format("number", whole=True)
    ('"€"#,##0.00', '#,##0')
    """
    if unit == "percent":
        return "0.0%"
    digits = "#,##0" if whole else "#,##0.00"
    sign = symbol.replace('"', "").replace("\\", "")
    return f'"{sign}"{digits}' if unit == "currency" else digits


SHARE_FORMATS = {"attainment": "0%", "change_pct": "0.0%"}


def results_workbook(sheets: Sequence[Sheet]) -> bytes:
    """An .xlsx workbook with a sheet per KPI set (:func:`sheet_names` of their names): a bold,
    filled and frozen header with a filter, readable column names, each value in its KPI's
    unit at full precision, periods as Excel dates, text cells neutralized and never written
    as formulas, columns wide enough for what they show."""
    buffer = io.BytesIO()
    with _workbook(buffer) as book:
        for name, sheet in zip(sheet_names([s.name for s in sheets]), sheets, strict=True):
            header = list(COLUMN_TITLES.values())
            cells = _result_cells(sheet)
            _write_table(book, book.add_worksheet(name), header, cells)
    return buffer.getvalue()


Cell = tuple[object, str | None]  # a value and its Excel number format (None: General)


def _result_cells(sheet: Sheet) -> list[list[Cell]]:
    """Each export row of ``sheet`` as cells with their number formats."""
    by_name = {k.name: k for k in sheet.kpis}
    rows = result_rows(sheet.kpis, sheet.results, sheet.symbol)
    whole = {
        name: all(
            float(r[key]).is_integer()
            for r in rows
            if r["kpi"] == name
            for key in VALUE_KEYS
            if r[key] is not None
        )
        for name in by_name
    }
    cells = []
    for row in rows:
        kpi = by_name[row["kpi"]]
        number = value_format(kpi.unit, sheet.symbol, whole=whole[kpi.name])
        line: list[Cell] = []
        for key, value in row.items():
            if key in VALUE_KEYS:
                line.append((value, number))
            elif key in SHARE_KEYS:
                line.append((value, SHARE_FORMATS[key]))
            elif key == "period":
                line.append((value, _DATE_FORMATS.get(kpi.grain, "yyyy-mm-dd")))
            elif key == "as_of":
                line.append((value, "yyyy-mm-dd"))
            else:
                line.append((value, None))
        cells.append(line)
    return cells


def _workbook(buffer: io.BytesIO) -> Any:
    """An XlsxWriter workbook into ``buffer`` that writes text as text, never as a formula or
    a link."""
    import xlsxwriter  # type: ignore[import-untyped]

    options = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    return xlsxwriter.Workbook(buffer, options)


def _write_table(book: Any, sheet: Any, header: list[str], rows: list[list[Cell]]) -> None:
    """Write a table: header bold on a fill, frozen, with a filter; each cell in its number
    format (a date as an Excel date); text through :func:`safe_cell`; fitting widths."""
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": False})
    formats: dict[str | None, Any] = {None: None}
    widths = [len(title) + 4 for title in header]  # room for the filter's arrow
    for col, title in enumerate(header):
        sheet.write_string(0, col, str(safe_cell(title)), head)
    for r, line in enumerate(rows, start=1):
        for col, (value, number) in enumerate(line):
            if number not in formats:
                formats[number] = book.add_format({"num_format": number})
            widths[col] = max(widths[col], _write_cell(sheet, r, col, value, formats[number]))
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(len(rows), 1), max(len(header) - 1, 0))
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(width + 1, 60))


def _write_cell(sheet: Any, row: int, col: int, value: object, style: Any) -> int:
    """Write one cell by its type; returns about how many characters it shows."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        sheet.write_blank(row, col, None, style)
        return 0
    if isinstance(value, date | datetime):
        moment = (
            value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
        )
        sheet.write_datetime(row, col, moment, style)
        return 12
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = str(safe_cell(str(value)))
        sheet.write_string(row, col, text, style)
        return min(len(text), 60)
    sheet.write_number(row, col, float(value), style)
    return len(f"{abs(float(value)):,.2f}") + 3  # separators, decimals, sign or symbol


def export_spec(chart: Spec, width: int = EXPORT_WIDTH) -> dict[str, Any]:
    """A chart of ``kpi_logic.charts`` as plain Vega-Lite for an image: ``width`` px wide
    where it fills its container on the page, text sized to read (``EXPORT_CONFIG``)."""
    from kpi_logic import charts

    spec = json.loads(charts.to_json(chart))
    if spec.get("width") == "container":
        spec["width"] = width
    spec["config"] = {**EXPORT_CONFIG, **spec.get("config", {})}
    return spec


def chart_png(chart: Spec, scale: float = EXPORT_SCALE) -> bytes:
    """Render a chart of ``kpi_logic.charts`` to PNG offline (vl-convert), readable size."""
    import vl_convert

    return vl_convert.vegalite_to_png(export_spec(chart), scale=scale)


def chart_svg(chart: Spec) -> bytes:
    """Render a chart of ``kpi_logic.charts`` to SVG offline (vl-convert), readable size."""
    import vl_convert

    return vl_convert.vegalite_to_svg(export_spec(chart)).encode("utf-8")
