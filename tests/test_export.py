"""Exports open safely in a spreadsheet and read well: formulas neutralized; Excel with a
number format per unit, real dates, a styled frozen header and a filter; CSV rounded as shown;
charts and the dashboard report rendered. Expected values are computed here, by hand or with
pandas."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import date, datetime

import openpyxl
import pandas as pd
import pypdf
import pytest

from kpi_logic import charts, export, report, score, summary
from kpi_logic.model import KPI, Target

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
    kpi = KPI(name=HOSTILE[0], measure='sum("x")', by="Region")
    values = [1.5, -2.0, 3.0, 4.0, 5.0, 6.0]
    records = [
        {"kpi": kpi.name, "category": c, "period": None, "actual": a, "as_of": None}
        for c, a in zip(HOSTILE, values, strict=True)
    ]
    book = export.results_workbook(
        [export.Sheet("KPIs", [kpi], score.score_records(records, [kpi]))]
    )
    sheet = openpyxl.load_workbook(io.BytesIO(book)).active
    rows = list(sheet.iter_rows(min_row=2))
    assert all(not str(row[c].value).startswith("=") for row in rows for c in (0, 1))
    assert rows[0][0].value == "'" + HOSTILE[0]
    assert [row[1].value for row in rows] == [("'" + c) if c[0] in "=+-@\t" else c for c in HOSTILE]
    assert all(row[1].data_type == "s" for row in rows)
    assert [row[3].value for row in rows] == values


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


# --- scored results: Excel per unit, CSV as shown, charts and the dashboard report ----------

SALES = KPI(
    name="Sales",
    measure='sum("x")',
    unit="currency",
    by="Region",
    grain="month",
    time="Date",
    target=Target(default=1000.0),
)
MARGIN = KPI(
    name="Margin",
    measure='sum("x")',
    unit="percent",
    time="Date",
    grain="quarter",
    target=Target(default=0.4),
)
ORDERS = KPI(name="=Orders", measure='count("x")', unit="number", time="Date", grain="year",
             target=Target(default=50.0))  # fmt: skip
JAN, FEB = date(2024, 1, 1), date(2024, 2, 1)
AGGREGATE = [  # kpi, category, period, actual
    ("Sales", "West", JAN, 1236.894999999999),
    ("Sales", "West", FEB, 45.6749),
    ("Sales", "=cmd|' /C calc'!A0", FEB, 999.5),
    ("Sales", None, JAN, 14236.894999999999),
    ("Sales", None, FEB, 15001.25),
    ("Margin", None, JAN, 0.41254),
    ("Margin", None, date(2024, 4, 1), 0.38749),
    ("=Orders", None, JAN, 40.0),
    ("=Orders", None, date(2025, 1, 1), 61.0),
]


def results() -> list[dict]:
    records = [
        {"kpi": k, "category": c, "period": p, "actual": a, "as_of": date(2025, 3, 31),
         "additive": True}
        for k, c, p, a in AGGREGATE
    ]  # fmt: skip
    return score.score_records(records, [SALES, MARGIN, ORDERS])


def expected_frame() -> pd.DataFrame:
    """The same rows in pandas: target, attainment and change computed here."""
    frame = pd.DataFrame(AGGREGATE, columns=["kpi", "category", "period", "actual"])
    frame["target"] = frame["kpi"].map({"Sales": 1000.0, "Margin": 0.4, "=Orders": 50.0})
    # Sales has no total target: its regions' targets added up (one region in January, two
    # in February)
    totals = frame["category"].isna() & (frame["kpi"] == "Sales")
    frame.loc[totals, "target"] = [1000.0, 2000.0]
    frame["attainment"] = frame["actual"] / frame["target"]
    frame["unit"] = frame["kpi"].map({"Sales": "currency", "Margin": "percent", "=Orders": ""})
    return frame


def test_workbook_formats_each_unit_with_real_dates_styled_header_and_filter() -> None:
    book = openpyxl.load_workbook(
        io.BytesIO(
            export.results_workbook(
                [export.Sheet("Plan 2024", [SALES, MARGIN, ORDERS], results(), symbol="€")]
            )
        )
    )
    sheet = book["Plan 2024"]
    rows = list(sheet.iter_rows())
    titles = [c.value for c in rows[0]]
    assert titles[:7] == ["KPI", "Category", "Period", "Actual", "Target", "Attainment", "Status"]
    assert "Change vs previous" in titles
    assert not [t for t in titles if "_" in t]  # no change_pct, as_of
    assert all(c.font.b for c in rows[0])
    assert {c.fill.fgColor.rgb[-6:] for c in rows[0]} == {"DDEBF7"}
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:M{len(AGGREGATE) + 1}"
    col = {t: i for i, t in enumerate(titles)}
    by_key = {(r[0].value, r[1].value, r[2].value): r for r in rows[1:]}
    west_jan = by_key[("Sales", "West", datetime(2024, 1, 1))]
    assert west_jan[col["Actual"]].value == 1236.894999999999  # full precision
    assert west_jan[col["Actual"]].number_format == '"€"#,##0.00'
    assert west_jan[col["Attainment"]].number_format == "0%"
    assert west_jan[col["Attainment"]].value == pytest.approx(1236.894999999999 / 1000)
    assert west_jan[col["Period"]].is_date
    assert west_jan[col["Period"]].number_format == "mmm yyyy"
    assert west_jan[col["Unit"]].value == "€"
    total = by_key[("Sales", "All categories", datetime(2024, 2, 1))]
    assert total[col["Change vs previous"]].value == pytest.approx(15001.25 - 14236.894999999999)
    assert total[col["Change vs previous (%)"]].number_format == "0.0%"
    margin = by_key[("Margin", None, datetime(2024, 4, 1))]
    assert margin[col["Actual"]].number_format == "0.0%"
    assert margin[col["Period"]].number_format == "yyyy-mm-dd"  # quarters: the first day
    orders = by_key[("'=Orders", None, datetime(2025, 1, 1))]  # neutralized, still text
    assert orders[col["Actual"]].number_format == "#,##0"  # whole numbers only
    assert orders[col["Period"]].number_format == "yyyy"
    assert orders[col["Data up to"]].value == datetime(2025, 3, 31)
    hostile = next(r for r in rows[1:] if str(r[1].value).startswith("'=cmd"))
    assert hostile[1].data_type == "s"
    assert sheet.column_dimensions["B"].width >= len("=cmd|' /C calc'!A0")


def test_csv_is_rounded_as_the_app_shows_it_with_readable_names() -> None:
    text = export.results_csv([SALES, MARGIN, ORDERS], results()).decode("utf-8-sig")
    back = pd.read_csv(io.StringIO(text), keep_default_na=False, dtype=str)
    assert list(back.columns[:7]) == [
        "KPI", "Category", "Period", "Actual", "Target", "Attainment (%)", "Status",
    ]  # fmt: skip
    frame = expected_frame()
    values = frame["actual"].where(frame["actual"].abs() < 100, frame["actual"].round(0))
    values = values.where(values.abs() >= 100, frame["actual"].round(2))
    percent = frame["unit"] == "percent"
    values[percent] = (frame["actual"][percent] * 100).round(1)
    shares = (frame["attainment"] * 100).round(0)
    assert len(back) == len(frame)
    columns = (back["Actual"], back["Attainment (%)"], back["Period"])
    for actual, attained, period, value, share, day in zip(
        *columns, values, shares, frame["period"], strict=True
    ):
        assert float(actual) == value
        assert actual == (str(int(value)) if abs(value) >= 100 else str(value))  # no noise
        assert float(attained) == share
        assert period == day.isoformat()
    assert "14236.89" not in text
    assert "14237" in text
    assert set(back["Unit"]) == {"$", "%", ""}
    assert "'=Orders" in set(back["KPI"])  # formulas neutralized
    assert "All categories" in set(back["Category"])


def test_sheet_names_are_safe_and_unique() -> None:
    names = export.sheet_names(
        ["Plan: 2024/25 [final]?", "plan 2024 25 final", "x" * 40, "x" * 40, "History", "''"]
    )
    assert names[:2] == ["Plan 2024 25 final", "plan 2024 25 final (2)"]
    assert names[2] == "x" * 31
    assert names[3] == "x" * 27 + " (2)"
    assert names[4] == "History (2)"
    assert names[5] == "Sheet"
    assert len({n.casefold() for n in names}) == len(names)
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)


def trend() -> dict:
    rows = [r for r in results() if r["kpi"] == "Sales" and r["category"] is None]
    return charts.trend_chart(rows, unit="currency", target_line=rows, title="Sales: trend")


def test_each_chart_exports_as_png_and_svg_at_a_readable_size() -> None:
    png = export.chart_png(trend())
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") >= 900
    svg = ET.fromstring(export.chart_svg(trend()))
    assert float(svg.get("width")) >= 900
    texts = {t.text: t for t in svg.iter("{http://www.w3.org/2000/svg}text")}
    assert "Sales: trend" in texts
    assert float(texts["Sales: trend"].get("font-size").removesuffix("px")) >= 18
    assert "Jan 2024" in texts  # the period axis, labelled
    assert float(texts["Period"].get("font-size").removesuffix("px")) >= 13


def test_the_dashboard_report_holds_every_card_and_chart() -> None:
    scored = results()
    facts = summary.card_facts(scored)
    cards = [report.card_of(k, facts[k.name].last) for k in (SALES, MARGIN, ORDERS)]
    assert cards[0].value == "$15.0K"
    assert cards[0].status == f"{score.STATUS_SYMBOLS[score.ON_TARGET]} {score.ON_TARGET}"
    assert cards[0].share == f"{15001.25 / 2000:.0%} of target ($2,000)"
    assert cards[1].value == f"{0.38749:.1%}"
    assert cards[1].status.endswith(score.AT_RISK)  # 0.387 / 0.4 = 97%
    broken = report.card_of(ORDERS, None, problem="No column x")
    lines = report.describe_view(
        window=None, start=date(2024, 1, 1), end=None, filters={"Region": ["West"]}, tried=[]
    )
    spec = report.report_spec("Plan · Sales", lines, [*cards, broken], [trend()])
    pdf = report.dashboard_report(spec, "pdf")
    assert pdf.startswith(b"%PDF")
    text = " ".join(
        " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages).split()
    )
    for name in ("Sales", "Margin", "=Orders", "Plan · Sales", "Region: West", "Sales: trend"):
        assert name in text, name
    assert f"{score.ON_TARGET} {15001.25 / 2000:.0%} of target" in text
    assert report.NOT_COMPUTED in text
    png = report.dashboard_report(spec, "png")
    assert int.from_bytes(png[16:20], "big") >= 900


@pytest.mark.parametrize("value", [0.5, 4.214, 45.6749, 99.994, 100.5, 1234.5, 9999.4, -250.25])
def test_the_csv_precision_is_the_cards_precision(value: float) -> None:
    """Below 10,000 (where cards start writing K and M) a CSV value reads as the card's."""
    for unit in ("number", "currency"):
        card = charts.format_value(value, unit).replace(",", "").replace("$", "")
        assert str(export.shown(value, unit)) == card
    assert f"{export.shown(value / 1000, 'percent')}%" == charts.format_value(
        value / 1000, "percent"
    )
