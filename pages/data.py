"""Data: upload spreadsheet exports, preview them, profile columns, fix types, see rejects."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from kpi_logic import ingest, tables, workspace
from kpi_logic.errors import KPIExplorerError
from kpi_logic.ingest_types import LOGICAL_TYPES
from ui import kpis, layout, session, shell

shell.ensure()

PREVIEW_ROWS = 200

session.on_page("data")
session.show_link_problems()
st.title("Data")
st.caption(
    "Upload CSV, TSV or TXT exports, Excel workbooks (.xlsx, .xls) or Parquet files. Each file "
    "becomes a dataset; define its KPIs on the Dashboard."
)
store, cur, uploads_dir = session.store(), session.cursor(), session.upload_dir()


@st.cache_data(max_entries=32, show_spinner="Profiling the columns…")
def _profile(_cur: duckdb.DuckDBPyConnection, table: str, revision: str) -> pd.DataFrame:
    """The column profile of a dataset (one scan), kept until its content changes."""
    return ingest.profile_table(_cur, table)


def _progress(bar: st.delta_generator.DeltaGenerator) -> workspace.Progress:
    def report(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    return report


def load(upload: st.runtime.uploaded_file_manager.UploadedFile) -> None:
    """Save the upload to disk, load it (first sheet of a workbook) and report on the page.
    On failure nothing of it is kept (no file, no table) and the message says why."""
    st.session_state["loading"] = upload.name
    bar = st.progress(0.0, text=f"Saving {upload.name}…")
    cancel = st.empty()
    cancel.button("Cancel", key=f"cancel_{upload.file_id}", help="Stops loading at its next step.")
    path = None
    try:
        path = workspace.save_upload(uploads_dir, upload.name, upload)
        sheets = ingest.list_sheets(path)
        dataset, result = workspace.add_dataset(
            store,
            session.cursor(),  # a new one if an earlier failure reopened the store
            path,
            upload.name,
            uploads_dir,
            sheet=sheets[0] if sheets else None,
            progress=_progress(bar),
        )
    except (KPIExplorerError, OSError) as err:
        bar.empty()
        cancel.empty()
        st.session_state.pop("loading", None)
        if path is not None:
            workspace.discard_upload(uploads_dir, path)
        message = str(err) if isinstance(err, KPIExplorerError) else "it could not be saved"
        st.session_state.setdefault("load_messages", []).append(
            ("error", f"{upload.name} was not loaded: {message}")
        )
        return
    except BaseException:  # cancelled: the next rerun says so
        if path is not None:
            workspace.discard_upload(uploads_dir, path)
        raise
    bar.empty()
    cancel.empty()
    st.session_state.pop("loading", None)
    if len(sheets) > 1:
        st.session_state.setdefault("workbooks", {})[dataset.id] = (str(path), sheets)
    kpis.choose_dataset(dataset.id)
    message = f"{upload.name}: loaded {result.rows:,} rows and {len(result.columns)} columns"
    if len(sheets) > 1:
        message += f" from sheet “{sheets[0]}” (pick another sheet below)"
    if len(result.rejects):
        message += f"; {len(result.rejects):,} rows or values were rejected (see Rejected rows)"
    messages = st.session_state.setdefault("load_messages", [])
    messages.append(("success", message + "."))
    messages += [("warning", f"{upload.name}: {w}") for w in result.warnings]


def _drawn_for(key: str, dataset_id: str) -> None:
    """A button's click: remember which dataset the button was drawn for."""
    st.session_state[key] = dataset_id


def _delete(dataset_id: str) -> str | None:
    """The delete button: delete the dataset it was drawn for, never the one shown now (another
    tab may have deleted it, and the picker fallen back to another); say why it could not."""
    try:
        workspace.delete_dataset(store, session.cursor(), dataset_id, uploads_dir)
    except KPIExplorerError as err:
        return str(err)
    session.set_view(dataset=None, kpi_set=None, kpi=None, targets={}, filters={})
    return None


files = st.file_uploader(
    "Upload files",
    type=list(ingest.SUPPORTED_EXTENSIONS),
    accept_multiple_files=True,
    key="uploader",
    help="Each file is saved to disk and loaded into its own table.",
)
if cancelled := st.session_state.pop("loading", None):
    st.warning(f"Loading {cancelled} was cancelled; nothing was added. Upload it again to retry.")
done = st.session_state.setdefault("loaded_uploads", set())
for upload in files or []:
    if upload.file_id not in done:
        done.add(upload.file_id)
        load(upload)
for kind, message in st.session_state.pop("load_messages", []):
    getattr(st, kind)(message)
cur = session.cursor()  # a new one if a failed load reopened the store

dataset = kpis.current_dataset()
if dataset is None:
    st.info("No dataset yet: upload a file above.")
    st.stop()

kpis.dataset_picker(dataset, "data_pick")
st.markdown(
    f"**{dataset.rows:,} rows** from `{dataset.source_name}`, loaded "
    f"{dataset.created_at:%Y-%m-%d %H:%M}"
)

workbook = st.session_state.get("workbooks", {}).get(dataset.id)
if workbook:
    path, sheets = workbook
    other = st.selectbox(
        "This workbook has more sheets; load another one as a dataset", sheets, key="sheet_pick"
    )
    if st.button("Load sheet", key="load_sheet"):
        bar = st.progress(0.0, text=f"Loading sheet {other}…")
        try:
            added, _ = workspace.add_dataset(
                store,
                cur,
                Path(path),
                f"{dataset.source_name} · {other}",
                uploads_dir,
                sheet=other,
                progress=_progress(bar),
            )
        except KPIExplorerError as err:
            bar.empty()
            st.error(f"Sheet {other} was not loaded: {err}")
            cur = session.cursor()  # a new one if the failure reopened the store
        else:
            kpis.choose_dataset(added.id)
            st.rerun()

preview, profile, types, rejects = st.tabs(["Preview", "Columns", "Fix types", "Rejected rows"])
with preview:
    st.dataframe(
        tables.preview(cur, dataset.table, PREVIEW_ROWS),
        hide_index=True,
    )
    st.caption(f"The first {min(PREVIEW_ROWS, dataset.rows):,} of {dataset.rows:,} rows.")
profiled = _profile(cur, dataset.table, dataset.content_hash)
with profile:
    st.dataframe(profiled, hide_index=True, width="stretch")
    st.caption("Distinct counts are approximate on large tables.")
with types:
    column = st.selectbox("Column", list(profiled["column"]), key="retype_column")
    detected = profiled.set_index("column").loc[column, "type"]
    chosen = workspace.type_overrides(uploads_dir, dataset)
    st.caption(f"Now **{detected}**" + (" (set by hand)." if column in chosen else " (detected)."))
    if chosen:
        st.caption("Set by hand: " + ", ".join(f"{c} → {t}" for c, t in sorted(chosen.items())))
    new_type = st.selectbox("Treat it as", LOGICAL_TYPES, key="retype_type")
    retype_clicked = st.button(
        "Change type",
        key="retype",
        disabled=new_type == detected,
        on_click=_drawn_for,
        args=("retype_for", dataset.id),
    )
    if retype_clicked and st.session_state.pop("retype_for", None) != dataset.id:
        st.error("This dataset was already deleted.")  # the page fell back to another one
    elif retype_clicked:
        bar = st.progress(0.0, text="Reloading…")
        try:
            result = workspace.retype(
                store, cur, dataset, uploads_dir, {column: new_type}, progress=_progress(bar)
            )
        except KPIExplorerError as err:
            bar.empty()
            st.error(f"The type was not changed: {err}")
            cur = session.cursor()  # a new one if the failure reopened the store
        else:
            bar.empty()
            st.session_state.setdefault("load_messages", []).append(
                (
                    "success",
                    f"“{column}” is now {new_type}; {len(result.rejects):,} values did "
                    "not convert (see Rejected rows).",
                )
            )
            st.rerun()
with rejects:
    rejected = workspace.rejects(cur, dataset)
    if rejected.empty:
        st.success("No row or value was rejected.")
    else:
        st.dataframe(rejected, hide_index=True, width="stretch")
        st.caption("Rejected values are empty in the table; whole rejected rows are left out.")

with st.expander("Delete this dataset", icon=":material/delete:"):
    st.write("This deletes the table, its KPI sets, notes and history for everyone.")
    layout.action_button(
        f"Delete {dataset.name}", "delete_dataset", _delete, dataset.id, type="primary"
    )
