"""Exports: the Review page's results (CSV, Excel with a sheet per KPI set) and the selected
KPI's charts (PNG, SVG); the Dashboard's whole view as one PDF or PNG report.

Every export is made on click (a callable), so it reaches Streamlit's /media/ route only then
(see README, "Hosting for a team"). The callables get plain data and call only ``kpi_logic``
(they run on another thread, without the session).
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from kpi_logic import (
    charts,
    export,
    formats,
    projection,
    report,
    score,
    scorecard,
    summary,
    windows,
)
from kpi_logic.compute import Record
from kpi_logic.model import KPI
from kpi_logic.store import Dataset, KPISet, Note
from kpi_logic.text import markdown_text, plain_text
from ui import filters, kpis, layout, session

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHART_LABELS = {  # a chart's key -> its button's name
    "bullet": "Bullet chart",
    "trend": "Trend",
    "heatmap": "Heatmap",
    "cumulative": "Cumulative chart",
}


def currency_of(items: list[KPI]) -> str:
    """The symbol of a KPI set's currency (the KPI file's ``currency``, else the locale's)."""
    return formats.symbol(items[0].currency if items else "")


def section(
    dataset: Dataset, kpi_set: KPISet, items: list[KPI], results: list[Record], chosen: str
) -> None:
    """Download buttons for the results (this KPI set, or every KPI set of the dataset as one
    workbook) and for each chart of the KPI ``chosen``."""
    st.subheader("Export")
    label, csv, excel = st.columns([2, 1, 1], vertical_alignment="center")
    label.markdown(f"**Results** of the KPI set “{markdown_text(kpi_set.name)}”")
    csv.download_button(
        "Results as CSV",
        lambda: export.results_csv(items, results, currency_of(items)),
        file_name="kpi_results.csv",
        mime="text/csv",
        key="export_csv",
    )
    sheets = [export.Sheet(kpi_set.name, items, results, currency_of(items))]
    sets = session.store().list_kpi_sets(session.cursor(), dataset.id)
    others = [s for s in sets if s.id != kpi_set.id]
    if others and label.toggle(
        f"Excel: every KPI set of this dataset, a sheet each ({len(others) + 1})",
        key="export_every_set",
    ):
        sheets += [_sheet(dataset, other) for other in others]
    excel.download_button(
        "Results as Excel",
        lambda: export.results_workbook(sheets),
        file_name="kpi_results.xlsx",
        mime=XLSX,
        key="export_xlsx",
    )
    selected = next(k for k in items if k.name == chosen)
    rows = kpis.rows_of(results, chosen)
    notes = session.store().notes(session.cursor(), kpi_set.id, chosen)
    specs = kpi_charts(selected, rows, notes, cumulative_span(dataset, selected, rows))
    if not specs:
        st.caption("The chart exports need a KPI with data and a date or category column.")
    for key, spec in specs.items():
        label, png, svg = st.columns([2, 1, 1], vertical_alignment="center")
        label.markdown(f"**{CHART_LABELS[key]}** of {markdown_text(chosen)}")
        png.download_button(
            f"{CHART_LABELS[key]} as PNG",
            lambda spec=spec: export.chart_png(spec),
            file_name=f"kpi_{key}.png",
            mime="image/png",
            key=f"export_{key}_png",
        )
        svg.download_button(
            f"{CHART_LABELS[key]} as SVG",
            lambda spec=spec: export.chart_svg(spec),
            file_name=f"kpi_{key}.svg",
            mime="image/svg+xml",
            key=f"export_{key}_svg",
        )


def _sheet(dataset: Dataset, kpi_set: KPISet) -> export.Sheet:
    """Another KPI set's saved KPIs scored under the view's filters, as a workbook sheet."""
    saved = kpis.saved_kpis(kpi_set)
    results, _ = kpis.scored(dataset, saved) if saved else ([], {})
    return export.Sheet(kpi_set.name, saved, results, currency_of(saved))


def cumulative_span(dataset: Dataset, kpi: KPI, rows: list[Record]) -> windows.Window | None:
    """The time window of the cumulative chart the dashboard draws for ``kpi`` (a sum or a
    count with a window picked), else None."""
    choice = kpis.window_choice()
    dates = filters.date_span(dataset, kpi.time or "") if kpi.time else None
    if choice is None or dates is None or not rows or not rows[0]["additive"]:
        return None
    return scorecard.span_of(kpi, choice, *dates)


def kpi_charts(
    kpi: KPI,
    rows: list[Record],
    notes: list[Note],
    span: windows.Window | None,
    ahead: projection.Projection | None = None,
) -> dict[str, charts.Spec]:
    """The charts the dashboard draws for ``kpi`` (bullet per category for the latest period,
    trend, attainment heatmap, cumulative through the window ``span``), titled with its name.
    No Streamlit call: safe in a download's callable."""
    name, by = plain_text(kpi.name), kpi.by or "Category"
    cells = [r for r in rows if r["category"] is not None]
    found: dict[str, charts.Spec] = {}
    periods = [r["period"] for r in cells if not score.is_missing(r["actual"])]
    if kpi.by and periods:
        latest = max(periods) if kpi.time else None
        found["bullet"] = charts.bullet_chart(
            [r for r in cells if r["period"] == latest] if kpi.time else cells,
            unit=kpi.unit,
            direction=kpi.direction,
            good=kpi.bands.good,
            warning=kpi.bands.warning,
            category_title=by,
            title=f"{name}: actual against target",
        )
    if kpi.time and any(not score.is_missing(r["actual"]) for r in rows):
        found["trend"], _ = kpis.trend(kpi, rows, f"{name}: trend", notes, ahead)
    if kpi.by and kpi.time and any(not score.is_missing(r["attainment"]) for r in cells):
        found["heatmap"] = charts.heatmap(
            cells,
            unit=kpi.unit,
            good=kpi.bands.good,
            warning=kpi.bands.warning,
            grain=kpi.grain,
            category_title=by,
            title=f"{name}: attainment by {plain_text(by)} and period",
        )
    if span is not None:
        found["cumulative"] = charts.cumulative_chart(
            windows.cumulative(kpi, rows, span),
            unit=kpi.unit,
            grain=kpi.grain,
            title=f"{name}: {windows.WINDOW_LABELS.get(span.kind, span.kind).lower()}, cumulative",
        )
    return found


def dashboard_download(
    dataset: Dataset,
    kpi_set: KPISet,
    items: list[KPI],
    results: list[Record],
    problems: dict[str, str],
    window: list[Record] | None,
) -> None:
    """Download the dashboard as shown (cards of the view's window, filters and unsaved
    targets; the selected KPI's charts) as one PDF or PNG, made on click; drawn only while
    its section is open, so a closed one costs nothing on a rerun."""
    box = layout.lazy_expander(
        "Download this dashboard", "open_dashboard_report", icon=":material/download:"
    )
    if box is None:
        return
    view = session.view()
    facts = summary.card_facts(results)
    totals = {r["kpi"]: r for r in window or [] if r["category"] is None}
    cards = [
        report.card_of(
            k,
            facts[k.name].last if k.name in facts else None,
            problem=problems.get(k.name),
            window=totals.get(k.name),
        )
        for k in items
    ]
    selected = next((k for k in items if k.name == kpis.selected_name(items)), None)
    specs: list[charts.Spec] = []
    if selected is not None and selected.name not in problems:
        rows = kpis.rows_of(results, selected.name)
        notes = session.store().notes(session.cursor(), kpi_set.id, selected.name)
        span = cumulative_span(dataset, selected, rows)
        specs = list(kpi_charts(selected, rows, notes, span, kpis.outlook(selected, rows)).values())
    lines = report.describe_view(
        window=windows.WINDOW_LABELS[view.window] if view.window else None,
        start=view.start,
        end=view.end,
        filters=view.filters,
        tried=sorted({key.kpi for key in view.targets}),
    )
    title = f"KPI dashboard · {dataset.name} · {kpi_set.name} · {date.today():%d %b %Y}"

    def made(fmt: str) -> bytes:
        return report.dashboard_report(report.report_spec(title, lines, cards, specs), fmt)

    with box:
        about = f" and the charts of {markdown_text(selected.name)}" if specs and selected else ""
        st.caption(f"The cards{about}, as the dashboard shows them now.")
        left, right = st.columns(2)
        left.download_button(
            "Dashboard as PDF",
            lambda: made("pdf"),
            file_name="kpi_dashboard.pdf",
            mime="application/pdf",
            key="export_dashboard_pdf",
        )
        right.download_button(
            "Dashboard as PNG",
            lambda: made("png"),
            file_name="kpi_dashboard.png",
            mime="image/png",
            key="export_dashboard_png",
        )
