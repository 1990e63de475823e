"""Data: upload spreadsheet exports, preview them, profile columns, fix types, see rejects."""

from __future__ import annotations

import duckdb
import pandas as pd
import streamlit as st

from kpi_logic import ingest, tables, versions, workspace
from kpi_logic.store import Dataset
from kpi_logic.text import markdown_text
from ui import deletion, kpis, live_tables, session, shell, suggestions, uploads
from ui import versions as version_ui

PREVIEW_ROWS = 200


@st.cache_data(max_entries=32, show_spinner="Profiling the columns…")
def _profile(_cur: duckdb.DuckDBPyConnection, table: str, revision: str) -> pd.DataFrame:
    """The column profile of a dataset (one scan), kept until its content changes."""
    return ingest.profile_table(_cur, table)


def header(dataset: Dataset) -> None:
    """Which dataset this is, how many rows, from which file, when."""
    kpis.dataset_picker(dataset, "data_pick")
    st.markdown(
        f"**{markdown_text(versions.caption(dataset))}**, "
        f"loaded {dataset.created_at:%Y-%m-%d %H:%M}"
    )


def tabs(dataset: Dataset) -> None:
    """Preview, column profile, type fixes and rejected rows of a dataset."""
    cur = session.cursor()
    preview, profile, types, rejects = st.tabs(["Preview", "Columns", "Fix types", "Rejected rows"])
    with preview:
        st.dataframe(tables.preview(cur, dataset.table, PREVIEW_ROWS), hide_index=True)
        st.caption(f"The first {min(PREVIEW_ROWS, dataset.rows):,} of {dataset.rows:,} rows.")
    profiled = _profile(cur, dataset.table, dataset.content_hash)
    with profile:
        st.dataframe(profiled, hide_index=True, width="stretch")
        st.caption("Distinct counts are approximate on large tables.")
    with types:
        uploads.retype(dataset, dict(zip(profiled["column"], profiled["type"], strict=True)))
    with rejects:
        rejected = workspace.rejects(session.cursor(), dataset)
        if rejected.empty:
            st.success("No row or value was rejected.")
        else:
            st.dataframe(rejected, hide_index=True, width="stretch")
            st.caption("Rejected values are empty in the table; whole rejected rows are left out.")


shell.page("data", "Data")
st.caption(
    "Upload CSV, TSV or TXT exports, Excel workbooks (.xlsx, .xls) or Parquet files. Each file "
    "becomes a dataset; define its KPIs on the Dashboard."
)
uploads.uploader(version_ui.ask_if_same_name)
version_ui.same_name_question()
live_tables.connect_section()
dataset = kpis.current_dataset()
if dataset is None:
    st.info("No dataset yet: upload a file above.")
    st.stop()
header(dataset)
if not live_tables.details(dataset):  # a live table: its database profiles it
    uploads.other_sheet(dataset)
    version_ui.pending_check()
    suggestions.offer(dataset)
    tabs(dataset)
    version_ui.section(dataset)
deletion.section(dataset)
