"""Exports of the Review page: results as CSV and Excel, the selected KPI's trend as PNG.

Every export is made on click (a callable), so it reaches Streamlit's /media/ route only then
(see README, "Hosting for a team").
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpi_logic import export, score
from kpi_logic.compute import Record
from kpi_logic.model import KPI
from kpi_logic.text import markdown_text
from ui import kpis


def section(items: list[KPI], results: list[Record], chosen: str) -> None:
    """Download buttons for the results and for the trend of the KPI ``chosen``."""
    st.subheader("Export")
    table = pd.DataFrame.from_records(results, columns=score.SCORED_COLUMNS)
    table = table.drop(columns=["additive"]).assign(
        period=table["period"].astype("string"), as_of=table["as_of"].astype("string")
    )
    left, middle, right = st.columns(3)
    left.download_button(
        "Results as CSV",
        lambda: export.to_csv_bytes(table),
        file_name="kpi_results.csv",
        mime="text/csv",
        key="export_csv",
    )
    middle.download_button(
        "Results as Excel",
        lambda: export.to_excel_bytes(table),
        file_name="kpi_results.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="export_xlsx",
    )
    selected = next(k for k in items if k.name == chosen)
    if selected.time and any(
        not score.is_missing(r["actual"]) for r in kpis.rows_of(results, chosen)
    ):
        chart, _ = kpis.trend(selected, results, title=f"{selected.name}: trend")
        right.download_button(
            f"Trend of {markdown_text(chosen)} as PNG",
            lambda: export.chart_png(chart),
            file_name="kpi_trend.png",
            mime="image/png",
            key="export_png",
        )
    else:
        right.caption("The chart export needs a KPI with a date column and data.")
