"""Per-session state shared by the pages: the one store, this session's cursor, the view.

The view (dataset, KPI set, selected KPI, target overrides, filters) is read from the URL
on a session's first run and written back to the URL after every run, so the address bar is
always a share link for what is on screen.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import duckdb
import streamlit as st

from kpi_logic import share, workspace
from kpi_logic.errors import KPIExplorerError, StoreDamagedError
from kpi_logic.store import (
    Store,
    is_url,
    set_aside,
    store_path_from_env,
    store_url_from_env,
    upload_dir_for,
)
from kpi_logic.text import markdown_text
from ui import layout

APP_DIR = Path(__file__).resolve().parent.parent
SAMPLE_DATA = APP_DIR / "data" / "sample_sales.csv"
SAMPLE_KPIS = APP_DIR / "data" / "sample_kpis.yaml"
PAGES = {name: f"pages/{name}.py" for name in share.PAGES}  # page name -> its file


@st.cache_resource(show_spinner="Opening the store…")
def _open_store(path: Path, url: str | None, memory_limit: str | None) -> Store:
    uploads = upload_dir_for(path)
    uploads.mkdir(parents=True, exist_ok=True)
    opened = Store(
        path, url=url, allowed_dirs=[uploads, SAMPLE_DATA.parent], memory_limit=memory_limit
    )
    try:
        workspace.sweep_orphans(opened, uploads)  # what crashed loads left behind
        workspace.ensure_sample(opened, SAMPLE_DATA, SAMPLE_KPIS, uploads)
    except BaseException:
        opened.close()  # not cached: the next run tries again
        raise
    return opened


def upload_dir() -> Path:
    """Where uploads are written: beside the store file (readable by its connection)."""
    return upload_dir_for(store_path_from_env())


def store() -> Store:
    """The process-wide store (one DuckDB connection); the bundled sample is loaded once.

    ``KPI_MEMORY_LIMIT`` (e.g. ``4GB``) caps DuckDB's memory; beyond it, it spills to disk.
    """
    return _open_store(
        store_path_from_env(), team_store_url(), os.environ.get("KPI_MEMORY_LIMIT") or None
    )


def team_store_url() -> str | None:
    """The PostgreSQL team store, if any: ``KPI_STORE`` when it is a ``postgresql://`` URL,
    else ``url`` under ``[connections.kpi_store]`` in ``.streamlit/secrets.toml``."""
    if url := store_url_from_env():
        return url
    try:
        section = st.secrets.get("connections", {}).get("kpi_store", {})
    except FileNotFoundError:  # no secrets.toml at all
        return None
    url = section.get("url") if hasattr(section, "get") else None
    return url if is_url(url) else None


def cursor() -> duckdb.DuckDBPyConnection:
    """This session's own cursor on the store's connection; a new one once the store was
    reopened after a failed write (the old cursor is closed then) or replaced."""
    opened = store()
    held = st.session_state.get("cursor")
    if held is None or held[0] is not opened or held[1] != opened.generation:
        held = (opened, opened.generation, opened.cursor())
        st.session_state["cursor"] = held
    return held[2]


def store_ready() -> bool:
    """Open the store, or say why it cannot be opened and return False. A damaged store file
    gets a button that keeps it aside under a new name and starts a new store."""
    try:
        store()
    except StoreDamagedError as err:
        st.error(
            f"{markdown_text(err)} Start a new store to go on; the damaged file is kept beside it."
        )
        if problem := st.session_state.pop("store_problem", None):
            st.error(markdown_text(problem))
        st.button(
            "Start a new store",
            key="new_store",
            type="primary",
            on_click=_start_new_store,
            args=(err,),
        )
        return False
    except KPIExplorerError as err:
        st.error(markdown_text(err))
        return False
    if moved := st.session_state.pop("store_set_aside", None):
        st.success(f"A new store was started; the damaged file was kept as {markdown_text(moved)}.")
    return True


def _start_new_store(damaged: StoreDamagedError) -> None:
    """The "Start a new store" button: set the damaged file aside (once, even from two tabs)."""
    try:
        moved = set_aside(damaged)
    except OSError as err:
        st.session_state["store_problem"] = f"The damaged file could not be moved: {err.strerror}."
        return
    if moved is not None:
        st.session_state["store_set_aside"] = str(moved)


def start() -> None:
    """Read the view from the URL on the session's first run and report broken link parts."""
    if "view" in st.session_state:
        return
    state, problems = share.from_query_params(st.query_params.to_dict())
    cur = cursor()
    if state.view:
        try:
            saved = store().get_view(cur, state.view)
        except KPIExplorerError as err:
            problems.append(str(err))
        else:
            state, more = share.from_query_params(saved.state)
            state = dataclasses.replace(state, view=saved.id)
            problems += more
    state, more = resolve(state)
    st.session_state["view"] = state
    st.session_state["link_problems"] = problems + more


def resolve(state: share.ViewState) -> tuple[share.ViewState, list[str]]:
    """``state`` less the dataset, version and KPI set (of a link or a saved view) that no
    longer exist, and what was dropped, each naming what is shown instead."""
    opened, cur = store(), cursor()
    if not state.dataset:
        return state, []
    try:
        dataset = opened.get_dataset(cur, state.dataset)
    except KPIExplorerError:
        left = opened.list_datasets(cur)
        instead = f"showing “{left[0].name}” instead" if left else "there is no dataset left"
        problem = (
            f"The dataset of this link or view no longer exists; {instead}. Pick another "
            "dataset on the Data page."
        )
        return share.ViewState(page=state.page), [problem]
    problems = []
    if state.dataset_version:
        try:
            opened.get_dataset(cur, dataset.id, state.dataset_version)
        except KPIExplorerError:
            problems.append(
                f"Version {state.dataset_version} of “{dataset.name}” no longer exists; "
                f"showing its current version ({dataset.version})."
            )
            state = dataclasses.replace(state, dataset_version=None)
    if state.kpi_set and not _exists(opened.get_kpi_set, state.kpi_set):
        sets = opened.list_kpi_sets(cur, dataset.id)
        instead = f"showing “{sets[0].name}”" if sets else "it has none left"
        problems.append(
            f"The KPI set of this link or view no longer exists; {instead} of “{dataset.name}”."
        )
        state = dataclasses.replace(state, kpi_set=None, kpi=None, targets={})
    return state, problems


def _exists(getter: object, record_id: str) -> bool:
    try:
        getter(cursor(), record_id)
    except KPIExplorerError:
        return False
    return True


# The parts of a page a moved target changes, as ``st.fragment`` keys, in the order they are
# redrawn: the cards and the selected KPI's charts, the targets panel, the address bar and
# share link. A target move redraws only these (:func:`rerun_view`), not the page around them.
VIEW_FRAGMENT, TARGETS_FRAGMENT, LINK_FRAGMENT = "kpi_view", "kpi_targets", "view_link"


def rerun_view() -> None:
    """From a target control's callback: redraw the cards, the charts, the targets panel and
    the link only (their fragments), as a full rerun would have drawn them."""
    st.rerun([VIEW_FRAGMENT, TARGETS_FRAGMENT, LINK_FRAGMENT])


def view() -> share.ViewState:
    """The current view state."""
    return st.session_state["view"]


def set_view(**changes: object) -> None:
    """Change parts of the view (e.g. ``set_view(kpi="Sales")``)."""
    st.session_state["view"] = dataclasses.replace(view(), **changes)


def on_page(name: str) -> None:
    """Record which page the view is on (the share link opens the same page)."""
    if view().page != name:
        set_view(page=name)


def show_link_problems() -> None:
    """Tell the user, once, which parts of the link they opened could not be used, and why
    a button they clicked could not act."""
    for problem in st.session_state.pop("link_problems", []):
        _warn_link(problem)
    layout.show_action_notices()


def write_url() -> None:
    """Mirror the view into the address bar so it can be copied and shared as is."""
    wanted = share.to_query_params(view())
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def share_link() -> str:
    """The full link to the current view (page included), from any page's address."""
    return share.share_url(st.context.url or "", view())


def check_view(kpi_names: Sequence[str], columns: Sequence[str]) -> None:
    """Drop the view's targets, KPI and filters that the shown KPI set and dataset lack, and
    say so on the page (a link made for another dataset must not break the cards)."""
    state, problems = share.check_against(view(), kpi_names, columns)
    if problems:
        st.session_state["view"] = state
        for problem in problems:
            _warn_link(problem)


def _warn_link(problem: str) -> None:
    """One part of the opened link that could not be used, said on the page."""
    st.warning(f"Link: {markdown_text(problem)}", icon=":material/link_off:")
