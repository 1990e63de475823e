"""Sidebar panel: the share link of the current view and saved views (save, open, rename,
delete)."""

from __future__ import annotations

import dataclasses

import streamlit as st

from kpi_logic import share
from kpi_logic.errors import KPIExplorerError
from kpi_logic.text import markdown_text, plain_text
from ui import kpis, layout, session


def panel() -> None:
    """Write the view into the address bar; draw the share link and the saved views."""
    box = layout.lazy_expander("Share this view", "open_share", icon=":material/share:")
    if box is None:
        _link(shown=False)
        return
    with box:
        st.caption(
            "Anyone with access to this app who opens the link sees this view. "
            "Copy it with the icon on the right."
        )
        _pin_version()
        _link(shown=True)
        _saved_views()


@st.fragment(key=session.LINK_FRAGMENT)
def _link(shown: bool) -> None:
    """The address bar, and the share link when the panel is open (``shown``): a fragment, so
    a target move (``session.rerun_view``) updates both without redrawing the page."""
    session.write_url()
    if shown:
        st.code(session.share_link(), language=None, wrap_lines=True)


def _pin_version() -> None:
    """Links follow the dataset's current version; this ties them to the one shown."""
    dataset = kpis.current_dataset()
    if dataset is None:
        return
    pinned = session.view().dataset_version is not None
    st.session_state["pin_version"] = pinned
    st.checkbox(
        f"Pin this version (version {dataset.version})",
        key="pin_version",
        help="Unpinned, the link and saved views show the dataset's latest version, whichever "
        "it is when they are opened. Pinned, they show this version.",
        on_change=lambda: session.set_view(
            dataset_version=dataset.version if st.session_state["pin_version"] else None
        ),
    )


def _saved_views() -> None:
    store, cur = session.store(), session.cursor()
    name = st.text_input("Save this view as", key="view_name", max_chars=200)
    if st.button("Save view", key="save_view", disabled=not name.strip()):
        try:
            state = dataclasses.replace(session.view(), view=None)
            view_id = store.save_view(
                cur, name.strip(), {"page": state.page, **share.to_query_params(state)}
            )
        except KPIExplorerError as err:
            st.error(markdown_text(err))
        else:
            session.set_view(view=view_id)
            st.toast(f"Saved view “{markdown_text(name.strip())}”.")
    views = store.list_views(cur)
    if not views:
        return
    labels = {v.id: plain_text(v.name) for v in views}
    picked = st.selectbox("Saved views", list(labels), format_func=labels.get, key="view_pick")
    open_, rename, delete = st.columns(3)
    with open_:
        layout.action_button("Open", "open_view", _open_view, picked)
    if page := st.session_state.pop("open_view_page", None):
        # said on the page the view opens (this run's page is left before it is drawn again)
        st.session_state["link_problems"] = st.session_state.pop("open_view_problems", [])
        st.switch_page(session.PAGES[page])
    st.text_input("New name", key="view_rename", max_chars=200)
    with rename:
        layout.action_button("Rename", "rename_view", _rename_view, picked)
    with delete:
        layout.action_button("Delete", "delete_view", _delete_view, picked)


def _open_view(view_id: str) -> str | None:
    """Show the saved view the button was drawn for; the reason when it can't be."""
    try:
        saved = session.store().get_view(session.cursor(), view_id)
    except KPIExplorerError as err:
        return f"Not opened: {err}"
    state, problems = share.from_query_params(saved.state)
    state, more = session.resolve(state)  # its dataset, version or KPI set may be gone
    problems += more
    page = saved.state.get("page")
    page = page if page in share.PAGES else share.DEFAULT_PAGE
    st.session_state["view"] = dataclasses.replace(state, view=view_id, page=page)
    st.session_state["open_view_problems"] = problems
    st.session_state["open_view_page"] = page
    return None


def _rename_view(view_id: str) -> str | None:
    """Rename the saved view the button was drawn for; the reason when it can't be."""
    new_name = st.session_state.get("view_rename", "").strip()
    if not new_name:
        return "Type the new name first."
    try:
        session.store().rename_view(session.cursor(), view_id, new_name)
    except KPIExplorerError as err:
        return f"Not renamed: {err}"
    st.session_state["view_rename"] = ""
    return None


def _delete_view(view_id: str) -> str | None:
    """Delete the saved view the button was drawn for; the reason when it can't be."""
    try:
        session.store().delete_view(session.cursor(), view_id)
    except KPIExplorerError as err:
        return f"Not deleted: {err}"
    if session.view().view == view_id:
        session.set_view(view=None)
    return None
