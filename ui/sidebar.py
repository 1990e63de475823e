"""The dashboard's sidebar: the dataset picker, the KPI file and the selected KPI's targets
(the KPI editor opens from the main area: ``ui/kpi_editor.py``)."""

from __future__ import annotations

import streamlit as st

from kpi_logic.model import KPI
from kpi_logic.store import Dataset, KPISet
from ui import kpi_editor, kpis, session, targets_panel


def draw(dataset: Dataset, kpi_set: KPISet, saved: list[KPI], *, targets: bool) -> None:
    """Draw the sidebar; with ``targets``, the selected KPI's targets panel too (once the
    dashboard has KPIs to score)."""
    with st.sidebar:
        kpis.dataset_picker(dataset, "dataset_pick")
        columns = kpis.dataset_columns(session.cursor(), dataset.table, dataset.content_hash)
        st.subheader("KPIs")
        kpi_editor.file_section(kpi_set, saved, columns)
        if saved and targets:
            targets_panel.section(dataset, kpi_set)
