"""Data: upload spreadsheet exports, preview them, profile columns, fix types, see rejects."""

from __future__ import annotations

import duckdb
import pandas as pd
import streamlit as st

from kpi_logic import ingest, tables, versions, workspace
from kpi_logic.errors import KPIExplorerError
from kpi_logic.store import Dataset
from kpi_logic.text import markdown_text
from ui import kpis, layout, live_tables, session, shell, suggestions, uploads
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


def delete_section(dataset: Dataset) -> None:
    """Delete the dataset shown, by the id the button was drawn for."""
    with st.expander("Delete this dataset", icon=":material/delete:"):
        st.write("This deletes the table, its KPI sets, notes and history for everyone.")
        layout.action_button(
            f"Delete {markdown_text(dataset.name)}",
            "delete_dataset",
            _delete,
            dataset.id,
            type="primary",
        )


def _delete(dataset_id: str) -> str | None:
    """The delete button: delete the dataset it was drawn for, never the one shown now (another
    tab may have deleted it, and the picker fallen back to another); say why it could not."""
    try:
        workspace.delete_dataset(
            session.store(), session.cursor(), dataset_id, session.upload_dir()
        )
    except KPIExplorerError as err:
        return str(err)
    session.set_view(dataset=None, kpi_set=None, kpi=None, targets={}, filters={})
    return None


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
delete_section(dataset)
