"""Sidebar panel: the share link of the current view and saved views (save, open, rename,
delete)."""

from __future__ import annotations

import dataclasses

import streamlit as st

from kpi_logic import share
from kpi_logic.errors import KPIExplorerError
from ui import layout, session


def panel() -> None:
    """Draw the share link and the saved views."""
    box = layout.lazy_expander("Share this view", "open_share", icon=":material/share:")
    if box is None:
        return
    with box:
        st.caption(
            "Anyone with access to this app who opens the link sees this view. "
            "Copy it with the icon on the right."
        )
        st.code(session.share_link(), language=None, wrap_lines=True)
        _saved_views()


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
            st.error(str(err))
        else:
            session.set_view(view=view_id)
            st.toast(f"Saved view “{name.strip()}”.")
    views = store.list_views(cur)
    if not views:
        return
    labels = {v.id: v.name for v in views}
    picked = st.selectbox("Saved views", list(labels), format_func=labels.get, key="view_pick")
    open_, rename, delete = st.columns(3)
    if open_.button("Open", key="open_view"):
        try:
            saved = store.get_view(cur, picked)
        except KPIExplorerError as err:
            st.error(str(err))
        else:
            state, problems = share.from_query_params(saved.state)
            page = saved.state.get("page", share.DEFAULT_PAGE)
            st.session_state["view"] = dataclasses.replace(state, view=picked, page=page)
            st.session_state["link_problems"] = problems
            st.switch_page(session.PAGES.get(page, session.PAGES[share.DEFAULT_PAGE]))
    new_name = st.text_input("New name", key="view_rename", max_chars=200)
    if rename.button("Rename", key="rename_view", disabled=not new_name.strip()):
        store.rename_view(cur, picked, new_name.strip())
        st.rerun()
    if delete.button("Delete", key="delete_view"):
        store.delete_view(cur, picked)
        if session.view().view == picked:
            session.set_view(view=None)
        st.rerun()
