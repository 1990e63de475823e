"""Dataset versions on the Data page: an upload named like an existing dataset asks "new
version or separate dataset?"; a new version (replace or append by a key column) is shown
with its schema diff and the KPIs it would break before it is taken; the version list and
restoring any version."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from kpi_logic import ingest, versions, workspace
from kpi_logic.errors import KPIExplorerError
from kpi_logic.store import Dataset, KPISet
from kpi_logic.text import markdown_text, plain_text
from ui import kpis, layout, session, uploads

_SAME_NAME = "same_name_upload"  # session key: an upload named like a dataset, waiting
_PENDING = "pending_version"  # session key: a staged file waiting to become a version
_MODES = {"replace": "Replace all rows", "append": "Append rows"}


def ask_if_same_name(upload: st.runtime.uploaded_file_manager.UploadedFile) -> bool:
    """For the uploader: keep an upload named like an existing dataset on disk and ask what
    it is (see :func:`same_name_question`); False when no dataset has its name."""
    existing = versions.same_name(upload.name, kpis.datasets())
    if existing is None:
        return False
    try:
        path = workspace.save_upload(session.upload_dir(), upload.name, upload)
    except (KPIExplorerError, OSError) as err:
        message = str(err) if isinstance(err, KPIExplorerError) else "it could not be saved"
        st.session_state.setdefault("load_messages", []).append(
            ("error", f"{upload.name} was not loaded: {message}")
        )
        return True
    st.session_state[_SAME_NAME] = (str(path), upload.name, existing.id)
    return True


def same_name_question() -> None:
    """Ask whether a file named like a dataset is its new version or a separate dataset."""
    waiting = st.session_state.get(_SAME_NAME)
    if not waiting:
        return
    path, name, dataset_id = waiting
    existing = next((d for d in kpis.datasets() if d.id == dataset_id), None)
    with st.container(border=True, key="same_name_box"):
        st.markdown(f"A dataset named **{markdown_text(name)}** is already here.")
        choices = ["version", "separate"] if existing else ["separate"]
        labels = {
            "version": f"A new version of “{plain_text(existing.name)}”" if existing else "",
            "separate": "A separate dataset",
        }
        choice = st.radio(
            "Load this file as", choices, format_func=labels.get, key="same_name_choice"
        )
        go, cancel = st.columns(2)
        if cancel.button("Cancel", key="same_name_cancel"):
            del st.session_state[_SAME_NAME]
            workspace.discard_upload(session.upload_dir(), Path(path))
            st.rerun()
        if not go.button("Continue", key="same_name_go", type="primary"):
            return
    del st.session_state[_SAME_NAME]
    if choice == "version" and existing is not None:
        _stage(existing, Path(path), name)
    else:
        _separate(Path(path), name)
    st.rerun()


def _separate(path: Path, name: str) -> None:
    """Load the file as a dataset of its own, under a name no dataset has."""
    label = versions.unique_name(name, [d.name for d in kpis.datasets()])
    bar = st.progress(0.0, text=f"Loading {markdown_text(name)}…")
    try:
        dataset, result = workspace.add_dataset(
            session.store(),
            session.cursor(),
            path,
            label,
            session.upload_dir(),
            progress=uploads.progress(bar),
            author=kpis.author(),
        )
    except KPIExplorerError as err:
        workspace.discard_upload(session.upload_dir(), path)
        _say("error", f"{name} was not loaded: {err}")
        return
    kpis.choose_dataset(dataset.id)
    _say("success", f"{name}: loaded {result.rows:,} rows as a separate dataset, “{label}”.")


def _stage(dataset: Dataset, path: Path, name: str) -> None:
    """Load the file beside ``dataset`` and keep it waiting for the user's go."""
    bar = st.progress(0.0, text=f"Loading {markdown_text(name)}…")
    try:
        staged = workspace.stage(
            session.store(),
            session.cursor(),
            path,
            session.upload_dir(),
            progress=uploads.progress(bar),
        )
    except KPIExplorerError as err:
        workspace.discard_upload(session.upload_dir(), path)
        _say("error", f"{name} was not loaded: {err}")
        return
    bar.empty()
    if session.view().dataset != dataset.id:
        kpis.choose_dataset(dataset.id)
    elif session.view().dataset_version:
        session.set_view(dataset_version=None)
    st.session_state[_PENDING] = (dataset.id, staged, name)


def _say(kind: str, message: str) -> None:
    st.session_state.setdefault("load_messages", []).append((kind, message))


def section(dataset: Dataset) -> None:
    """The versions of ``dataset``: upload a new version, the list, restore one (drawn only
    while the section is open)."""
    box = layout.lazy_expander(
        f"Versions (this is version {dataset.version}): upload a new one, append rows, restore",
        "open_versions",
        icon=":material/history:",
    )
    if box is None:
        return
    with box:
        _new_version_uploader(dataset)
        _version_list(dataset)


def _new_version_uploader(dataset: Dataset) -> None:
    upload = st.file_uploader(
        f"Upload a new version of {markdown_text(dataset.name)} (replace or append rows)",
        type=list(ingest.SUPPORTED_EXTENSIONS),
        key=f"version_upload_{dataset.id}",
        help="Its KPI sets, targets, views, notes and history stay with the dataset.",
    )
    done = st.session_state.setdefault("loaded_uploads", set())
    if upload is None or upload.file_id in done:
        return
    done.add(upload.file_id)
    try:
        path = workspace.save_upload(session.upload_dir(), upload.name, upload)
    except (KPIExplorerError, OSError) as err:
        st.error(f"{markdown_text(upload.name)} was not loaded: {markdown_text(err)}")
        return
    current = session.store().get_dataset(session.cursor(), dataset.id)
    _stage(current, path, upload.name)
    st.rerun()  # the check shows at the top of the page


def pending_check() -> None:
    """A staged file and what taking it would change: the schema diff, the KPIs it breaks;
    replace or append (with a key column), go on or cancel."""
    waiting = st.session_state.get(_PENDING)
    if not waiting:
        return
    dataset_id, staged, name = waiting
    store, cur = session.store(), session.cursor()
    try:
        current = store.get_dataset(cur, dataset_id)
        check = versions.check(store, cur, current, staged)
    except KPIExplorerError as err:
        _drop_pending()
        st.error(f"{markdown_text(name)} was not taken: {markdown_text(err)}")
        return
    with st.container(border=True, key="version_check"):
        st.subheader(f"New version of {markdown_text(current.name)}?")
        st.markdown(
            f"{markdown_text(name)}: **{staged.rows:,} rows**, compared with version "
            f"{current.version} ({current.rows:,} rows)."
        )
        _describe(check, current)
        mode = st.radio(
            "How", list(_MODES), format_func=_MODES.get, key="version_mode", horizontal=True
        )
        key = _key_column(current) if mode == "append" else None
        go, cancel = st.columns(2)
        clicked = go.button(
            f"Go on: make it version {_next(current)}", key="version_go", type="primary"
        )
        if cancel.button("Cancel", key="version_cancel"):
            _drop_pending()
            st.rerun()
    if clicked:
        _take(current, staged, name, mode, key)


def _describe(check: versions.VersionCheck, current: Dataset) -> None:
    if check.diff:
        st.markdown(
            "Columns that change:\n"
            + "\n".join(f"- {markdown_text(line)}" for line in check.diff.lines())
        )
    else:
        st.success(f"Same columns and types as version {current.version}.")
    if check.broken:
        listed = "\n".join(
            f"- **{markdown_text(b.kpi)}** ({markdown_text(b.kpi_set)}): {markdown_text(b.reason)}"
            for b in check.broken
        )
        st.error(f"These KPIs would break:\n{listed}", icon=":material/warning:")


def _key_column(current: Dataset) -> str | None:
    columns = list(kpis.dataset_columns(session.cursor(), current.table, current.content_hash))
    return st.selectbox(
        "Skip rows whose value in this column is already there",
        [None, *columns],
        format_func=lambda c: "(no key: add every row)" if c is None else plain_text(c),
        key="version_key",
    )


def _next(current: Dataset) -> int:
    return max(v.version for v in session.store().list_versions(session.cursor(), current.id)) + 1


def _take(
    current: Dataset, staged: workspace.Staged, name: str, mode: str, key: str | None
) -> None:
    """Take the staged file as the next version; the page shows it (links follow it)."""
    store, cur, folder = session.store(), session.cursor(), session.upload_dir()
    del st.session_state[_PENDING]
    try:
        if mode == "append":
            done = versions.append(store, cur, current, staged, folder, kpis.author(), key)
            taken = done.dataset
            message = f"Appended {done.added:,} rows from {name}"
            if key is not None:
                message += f"; {done.skipped:,} rows skipped as their {key} was already there"
        else:
            taken = versions.replace(store, cur, current, staged, folder, kpis.author())
            message = f"{name}: {taken.rows:,} rows"
    except KPIExplorerError as err:
        workspace.unstage(store, session.cursor(), staged, folder)
        st.error(f"{markdown_text(name)} was not taken: {markdown_text(err)}")
        return
    session.set_view(dataset=taken.id, dataset_version=None)
    _say("success", f"Version {taken.version} of {taken.name}. {message}.")
    st.rerun()


def _drop_pending() -> None:
    waiting = st.session_state.pop(_PENDING, None)
    if waiting:
        workspace.unstage(session.store(), session.cursor(), waiting[1], session.upload_dir())


def _version_list(dataset: Dataset) -> None:
    """Every version (file, rows, time, who) and a button that restores one."""
    listed = session.store().list_versions(session.cursor(), dataset.id)
    table = pd.DataFrame(
        {
            "Version": [v.version for v in listed],
            "Shown": ["current" if v.version == dataset.current else "" for v in listed],
            "File": [v.source_name for v in listed],
            "Rows": [v.rows for v in listed],
            "Uploaded (UTC)": [v.created_at for v in listed],
            "By": [v.author or "anonymous" for v in listed],
            "Change": [v.summary for v in listed],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch", key="versions_table")
    others = [v.version for v in listed if v.version != dataset.current]
    if not others:
        return
    picked = st.selectbox(
        "Restore an earlier version",
        others,
        format_func=lambda v: f"Version {v}",
        key=f"restore_pick_{dataset.id}",
    )
    layout.action_button(
        f"Restore version {picked}", "restore_version", _restore, dataset.id, picked
    )


def _restore(dataset_id: str, version: int) -> str | None:
    """Make the version the button was drawn for the current one; why not, when it can't."""
    try:
        restored = versions.restore(
            session.store(), session.cursor(), dataset_id, version, kpis.author()
        )
    except KPIExplorerError as err:
        return f"Not restored: {err}"
    session.set_view(dataset=dataset_id, dataset_version=None)
    _say("success", f"Version {version} of {restored.name} is the current one again.")
    return None


def history(dataset: Dataset, kpi_set: KPISet) -> None:
    """Who changed which targets, definitions and data (every version taken or restored),
    when, newest first."""
    st.subheader("History of targets, definitions and data")
    store, cur = session.store(), session.cursor()
    entries = store.history(cur, kpi_set.id)
    events = store.dataset_history(cur, dataset.id)
    lines = [(h.changed_at, h.author, f"KPI set version {h.version}", h.summary) for h in entries]
    lines += [(e.changed_at, e.author, "Data", e.summary) for e in events]
    lines.sort(key=lambda line: line[0], reverse=True)
    table = {
        "When": [line[0] for line in lines],
        "Who": [line[1] or "anonymous" for line in lines],
        "What": [line[2] for line in lines],
        "Change": [line[3] for line in lines],
    }
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch", key="history_table")
