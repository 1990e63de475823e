"""Exports through the real app (AppTest) on the bundled sample: the Review page's CSV and
Excel (a sheet per KPI set), its chart images, and the Dashboard's report, each downloaded by
running the button's on-click callable as Streamlit does. Expected figures come from pandas
over the sample's rows."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pypdf
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import app_test as app_test_module

from kpi_logic import workspace
from kpi_logic.kpi_file import kpis_from_yaml, kpis_to_yaml
from kpi_logic.store import Store, upload_dir_for
from tests.test_app import ROOT, SAMPLE_KPIS, open_sections, rerun, start

TITLES = [
    "KPI",
    "Category",
    "Period",
    "Actual",
    "Target",
    "Attainment",
    "Status",
    "Previous period",
    "Change vs previous",
    "Change vs previous (%)",
    "Categories' targets added up",
    "Unit",
    "Data up to",
]
SECOND_SET = "Ops/Q1 [draft]: *what? \\ if*"  # every character Excel refuses in a sheet name


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    frame = pd.read_csv(ROOT / "data" / "sample_sales.csv", parse_dates=["Date"])
    frame["month"] = frame["Date"].dt.to_period("M").dt.start_time
    return frame


@pytest.fixture
def media(monkeypatch: pytest.MonkeyPatch) -> list[MediaFileManager]:
    """The media file managers of the app's runs (AppTest makes one per run), where the
    download buttons' on-click callables are registered."""
    made: list[MediaFileManager] = []

    class Recorded(MediaFileManager):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append(self)

    monkeypatch.setattr(app_test_module, "MediaFileManager", Recorded)
    return made


def download(at: AppTest, media: list[MediaFileManager], key: str) -> bytes:
    """What the download button ``key`` gives on a click: its callable run as Streamlit runs
    it, the file read back from the media store."""
    button = at.get("download_button")
    proto = next(b.proto for b in button if b.proto.id.endswith(f"-{key}"))
    assert proto.deferred_file_id, "made on click"
    url = media[-1].execute_deferred(proto.deferred_file_id)
    found = media[-1].read_file(url.rsplit("/", 1)[1])
    assert found is not None
    return found.content


def revenue_by_region(sample: pd.DataFrame) -> pd.DataFrame:
    """Revenue per region and month, and in total, with its target (the sample's KPI file)."""
    per = sample.groupby(["Region", "month"])["Revenue"].sum().reset_index()
    total = sample.groupby("month")["Revenue"].sum().reset_index().assign(Region="All categories")
    frame = pd.concat([per, total], ignore_index=True)
    monthly = {"North": 1_100_000, "South": 900_000, "East": 1_050_000, "West": 1_000_000}
    frame["target"] = frame["Region"].map({**monthly, "All categories": 4_000_000})
    frame["period"] = frame["month"].dt.strftime("%Y-%m-%d")
    return frame.set_index(["Region", "period"])


def margin_by_region(sample: pd.DataFrame) -> pd.Series:
    grouped = sample.groupby(["Region", "month"])[["Revenue", "Cost"]].sum()
    margin = (grouped["Revenue"] - grouped["Cost"]) / grouped["Revenue"]
    margin.index = margin.index.set_levels(margin.index.levels[1].strftime("%Y-%m-%d"), level=1)
    return margin


def test_review_csv_is_rounded_as_shown_with_readable_names(
    store_path: Path, media: list[MediaFileManager], sample: pd.DataFrame
) -> None:
    at = start(store_path)
    at.switch_page("pages/review.py")
    rerun(at)
    text = download(at, media, "export_csv").decode("utf-8-sig")
    csv = pd.read_csv(io.StringIO(text), keep_default_na=False, dtype=str)
    titles = [t + " (%)" if t == "Attainment" else t for t in TITLES]
    assert list(csv.columns) == titles
    revenue = csv[csv["KPI"] == "Revenue"].set_index(["Category", "Period"])
    expected = revenue_by_region(sample)
    assert len(revenue) == len(expected)
    for key, row in expected.iterrows():
        got = revenue.loc[key]
        assert got["Actual"] == str(int(np.round(row["Revenue"]))), key  # whole, no float noise
        assert got["Target"] == str(row["target"])
        assert got["Attainment (%)"] == str(int(np.round(row["Revenue"] / row["target"] * 100)))
        assert got["Unit"] == "$"
    margin = csv[csv["KPI"] == "Profit Margin"].set_index(["Category", "Period"])
    for key, value in margin_by_region(sample).items():
        assert float(margin.loc[key, "Actual"]) == np.round(value * 100, 1), key
        assert margin.loc[key, "Unit"] == "%"
    assert "14236.894999999999" not in text
    assert all(len(p) == 10 and p[4] == "-" for p in csv["Period"] if p)  # ISO dates


def test_review_excel_has_formats_per_unit_real_dates_and_a_styled_header(
    store_path: Path, media: list[MediaFileManager], sample: pd.DataFrame
) -> None:
    at = start(store_path)
    at.switch_page("pages/review.py")
    rerun(at)
    book = openpyxl.load_workbook(io.BytesIO(download(at, media, "export_xlsx")))
    assert book.sheetnames == ["Sample KPIs"]
    sheet = book["Sample KPIs"]
    header = next(sheet.iter_rows(max_row=1))
    assert [c.value for c in header] == TITLES
    assert all(c.font.b for c in header)
    assert all(
        c.fill.fill_type == "solid" and c.fill.fgColor.rgb.endswith("DDEBF7") for c in header
    )
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:M{sheet.max_row}"
    column = {title: i for i, title in enumerate(TITLES)}
    expected = revenue_by_region(sample)
    units = {k.name: k.unit for k in kpis_from_yaml(SAMPLE_KPIS.read_text("utf-8"))}
    checked = set()
    for row in sheet.iter_rows(min_row=2):
        kpi, actual, period = (row[column[t]] for t in ("KPI", "Actual", "Period"))
        attainment = row[column["Attainment"]]
        if period.value is not None:
            assert isinstance(period.value, datetime)
            assert period.is_date
        if attainment.value is not None:
            assert attainment.number_format == "0%"
        if actual.value is None:
            continue
        unit = units[kpi.value]
        if unit == "currency":
            assert actual.number_format.startswith('"$"#,##0'), actual.number_format
        elif unit == "percent":
            assert actual.number_format == "0.0%"
        else:
            assert actual.number_format.startswith("#,##0")
        checked.add(unit)
        if kpi.value == "Revenue":
            key = (row[column["Category"]].value, f"{period.value:%Y-%m-%d}")
            assert actual.value == pytest.approx(expected.loc[key, "Revenue"], rel=1e-12)
            assert period.number_format == "mmm yyyy"
    assert checked == {"currency", "percent", "number"}
    new_customers = [r for r in sheet.iter_rows(min_row=2) if r[0].value == "New Customers"]
    assert new_customers[0][column["Actual"]].number_format == "#,##0"  # counts: whole
    longest = max(len(str(r[0].value)) for r in sheet.iter_rows())
    assert sheet.column_dimensions["A"].width >= longest


def test_every_kpi_set_as_one_workbook_with_safe_sheet_names(
    store_path: Path, media: list[MediaFileManager], sample: pd.DataFrame
) -> None:
    uploads = upload_dir_for(store_path)
    uploads.mkdir(parents=True)
    with Store(store_path, allowed_dirs=[uploads, ROOT / "data"]) as store:
        workspace.ensure_sample(store, ROOT / "data" / "sample_sales.csv", SAMPLE_KPIS, uploads)
        [dataset] = store.list_datasets(store.cursor())
        [shown] = store.list_kpi_sets(store.cursor(), dataset.id)
        revenue = kpis_from_yaml(SAMPLE_KPIS.read_text("utf-8"))[:1]
        store.save_kpi_set(store.cursor(), dataset.id, SECOND_SET, kpis_to_yaml(revenue), "ann")
        store.save_kpi_set(store.cursor(), dataset.id, "sample kpis", "kpis: []\n", "ann")
    at = start(store_path, {"ds": dataset.id, "ks": shown.id})
    at.switch_page("pages/review.py")
    rerun(at)
    at.toggle(key="export_every_set").set_value(True)
    rerun(at)
    book = openpyxl.load_workbook(io.BytesIO(download(at, media, "export_xlsx")))
    assert len(book.sheetnames) == 3
    assert book.sheetnames[0] == "Sample KPIs"
    names = [n.casefold() for n in book.sheetnames]
    assert len(set(names)) == 3  # unique as Excel compares them
    for name in book.sheetnames:
        assert len(name) <= 31, name
        assert not set(name) & set("[]:*?/\\"), name
    assert "sample kpis (2)" in names
    second = next(n for n in book.sheetnames if n.startswith("Ops"))
    rows = list(book[second].iter_rows(values_only=True))
    assert rows[0] == tuple(TITLES)
    total = sample.groupby("month")["Revenue"].sum()
    december = next(r for r in rows if r[1] == "All categories" and r[2] == datetime(2024, 12, 1))
    assert december[3] == pytest.approx(total[pd.Timestamp("2024-12-01")])


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_review_charts_download_as_png_and_svg_at_a_readable_size(
    store_path: Path, media: list[MediaFileManager]
) -> None:
    at = start(store_path)
    at.switch_page("pages/review.py")
    rerun(at)
    labels = {b.label for b in at.get("download_button")}
    for chart in ("Bullet chart", "Trend", "Heatmap"):
        assert {f"{chart} as PNG", f"{chart} as SVG"} <= labels
    width, height = png_size(download(at, media, "export_trend_png"))
    assert width >= 900
    assert height >= 300
    svg = ET.fromstring(download(at, media, "export_heatmap_svg"))
    texts = [t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "Revenue: attainment by Region and period" in texts
    title = next(
        t for t in svg.iter("{http://www.w3.org/2000/svg}text") if t.text and "Revenue:" in t.text
    )
    assert float(title.get("font-size", "0").removesuffix("px")) >= 18
    assert {"East", "North", "South", "West"} <= set(texts)
    assert "Cumulative chart as PNG" not in labels  # the dashboard draws none without a window
    # with a window in the view, the cumulative chart the dashboard draws is exported too
    windowed = start(store_path, {"w": "ytd", "to": "2024-05-15"})
    windowed.switch_page("pages/review.py")
    rerun(windowed)
    svg = ET.fromstring(download(windowed, media, "export_cumulative_svg"))
    texts = [t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "Revenue: year to date, cumulative" in texts
    assert png_size(download(windowed, media, "export_cumulative_png"))[0] >= 900


def test_the_dashboard_downloads_as_one_pdf_and_png_report_of_the_view(
    store_path: Path, media: list[MediaFileManager], sample: pd.DataFrame
) -> None:
    view = {"w": "ytd", "to": "2024-05-15", "t": json.dumps({"Revenue": 5_000_000})}
    at = open_sections(start(store_path, view), "open_dashboard_report")
    pdf = download(at, media, "export_dashboard_pdf")
    assert pdf.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    text = " ".join(text.split())
    for kpi in kpis_from_yaml(SAMPLE_KPIS.read_text("utf-8")):
        assert kpi.name in text, kpi.name
    # the Revenue card as the dashboard shows it: year to date, against the what-if target
    ytd = sample[(sample["Date"] >= "2024-01-01") & (sample["Date"] <= "2024-05-15")]
    now = ytd["Revenue"].sum()
    target = 5_000_000 * (4 + 15 / 31)  # the unsaved monthly target, May pro-rated
    assert f"${now / 1e6:.1f}M" in text
    assert f"{now / target:.0%} of target (${target / 1e6:.1f}M)" in text
    assert "Unsaved what-if targets: Revenue" in text
    assert "Cards: year to date" in text
    for title in ("actual against target", "trend", "year to date, cumulative"):
        assert f"Revenue: {title}" in text
    width, _ = png_size(download(at, media, "export_dashboard_png"))
    assert width >= 900


def test_exports_and_the_report_speak_the_kpi_files_currency(
    store_path: Path, tmp_path: Path, media: list[MediaFileManager]
) -> None:
    """A KPI file in euros: the Excel cells of its currency KPI have a euro format, the CSV
    says € in its Unit column, and the report's card writes the value in euros."""
    from tests.test_app_formats import make_euro_store

    frame = make_euro_store(store_path, tmp_path)
    at = start(store_path)
    at.switch_page("pages/review.py")
    rerun(at)
    book = openpyxl.load_workbook(io.BytesIO(download(at, media, "export_xlsx")))
    sheet = book.worksheets[0]
    titles = [c.value for c in sheet[1]]
    sales = [r for r in sheet.iter_rows(min_row=2) if r[titles.index("KPI")].value == "Sales"]
    assert sales
    assert all('"€"' in r[titles.index("Actual")].number_format for r in sales)
    table = pd.read_csv(io.StringIO(download(at, media, "export_csv").decode("utf-8-sig")))
    assert set(table[table["KPI"] == "Sales"]["Unit"]) == {"€"}
    last = frame.groupby("month")["Amount"].sum().iloc[-1]
    at.switch_page("pages/dashboard.py")
    at = open_sections(at, "open_dashboard_report")
    pdf = pypdf.PdfReader(io.BytesIO(download(at, media, "export_dashboard_pdf")))
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert f"€{last / 1000:.1f}K" in text
