"""Loading files on the Data page: uploads with a progress bar and Cancel, another sheet of a
workbook, a column's type changed; each reports on the page and keeps nothing of a failure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from kpi_logic import ingest, workspace
from kpi_logic.errors import KPIExplorerError
from kpi_logic.ingest_types import LOGICAL_TYPES
from kpi_logic.store import Dataset
from kpi_logic.text import markdown_text, plain_text
from ui import kpis, session


def uploader(
    intercept: Callable[[st.runtime.uploaded_file_manager.UploadedFile], bool] | None = None,
) -> None:
    """The file uploader: each new file is saved and loaded once (unless ``intercept`` takes
    it: it returns True then); then the messages."""
    files = st.file_uploader(
        "Upload files",
        type=list(ingest.SUPPORTED_EXTENSIONS),
        accept_multiple_files=True,
        key="uploader",
        help="Each file is saved to disk and loaded into its own table.",
    )
    if cancelled := st.session_state.pop("loading", None):
        st.warning(
            f"Loading {markdown_text(cancelled)} was cancelled; nothing was added. Upload it "
            "again to retry."
        )
    done = st.session_state.setdefault("loaded_uploads", set())
    for upload in files or []:
        if upload.file_id not in done:
            done.add(upload.file_id)
            if intercept is None or not intercept(upload):
                load(upload)
    show_messages()


def show_messages() -> None:
    """What the last loads said, once, as text (messages quote file, sheet and column names)."""
    for kind, message in st.session_state.pop("load_messages", []):
        getattr(st, kind)(markdown_text(message))


def progress(bar: st.delta_generator.DeltaGenerator) -> workspace.Progress:
    def report(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=markdown_text(message))

    return report


def load(upload: st.runtime.uploaded_file_manager.UploadedFile) -> None:
    """Save the upload to disk, load it (first sheet of a workbook) and report on the page.
    On failure nothing of it is kept (no file, no table) and the message says why."""
    store, uploads_dir = session.store(), session.upload_dir()
    st.session_state["loading"] = upload.name
    bar = st.progress(0.0, text=f"Saving {markdown_text(upload.name)}…")
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
            progress=progress(bar),
            author=kpis.author(),
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


def other_sheet(dataset: Dataset) -> None:
    """For a workbook just loaded: load another of its sheets as a dataset."""
    workbook = st.session_state.get("workbooks", {}).get(dataset.id)
    if not workbook:
        return
    path, sheets = workbook
    other = st.selectbox(
        "This workbook has more sheets; load another one as a dataset",
        sheets,
        key="sheet_pick",
        format_func=plain_text,
    )
    if not st.button("Load sheet", key="load_sheet"):
        return
    bar = st.progress(0.0, text=f"Loading sheet {markdown_text(other)}…")
    try:
        added, _ = workspace.add_dataset(
            session.store(),
            session.cursor(),
            Path(path),
            f"{dataset.source_name} · {other}",
            session.upload_dir(),
            sheet=other,
            progress=progress(bar),
        )
    except KPIExplorerError as err:
        bar.empty()
        st.error(f"Sheet {markdown_text(other)} was not loaded: {markdown_text(err)}")
    else:
        kpis.choose_dataset(added.id)
        st.rerun()


def retype(dataset: Dataset, detected_types: dict[str, str]) -> None:
    """Pick a column and the type to treat it as; reload the dataset with it."""
    uploads_dir = session.upload_dir()
    column = st.selectbox(
        "Column", list(detected_types), key="retype_column", format_func=plain_text
    )
    detected = detected_types[column]
    chosen = workspace.type_overrides(uploads_dir, dataset)
    st.caption(f"Now **{detected}**" + (" (set by hand)." if column in chosen else " (detected)."))
    if chosen:
        by_hand = ", ".join(f"{c} → {t}" for c, t in sorted(chosen.items()))
        st.caption(f"Set by hand: {markdown_text(by_hand)}")
    new_type = st.selectbox("Treat it as", LOGICAL_TYPES, key="retype_type")
    clicked = st.button(
        "Change type",
        key="retype",
        disabled=new_type == detected,
        on_click=_drawn_for,
        args=("retype_for", dataset.id),
    )
    if not clicked:
        return
    if st.session_state.pop("retype_for", None) != dataset.id:
        st.error("This dataset was already deleted.")  # the page fell back to another one
        return
    bar = st.progress(0.0, text="Reloading…")
    try:
        result = workspace.retype(
            session.store(),
            session.cursor(),
            dataset,
            uploads_dir,
            {column: new_type},
            progress=progress(bar),
            author=kpis.author(),
        )
    except KPIExplorerError as err:
        bar.empty()
        st.error(f"The type was not changed: {markdown_text(err)}")
        return
    bar.empty()
    st.session_state.setdefault("load_messages", []).append(
        (
            "success",
            f"“{column}” is now {new_type}; {len(result.rejects):,} values did "
            "not convert (see Rejected rows).",
        )
    )
    st.rerun()


def _drawn_for(key: str, dataset_id: str) -> None:
    """A button's click: remember which dataset the button was drawn for."""
    st.session_state[key] = dataset_id
