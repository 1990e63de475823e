"""The frame around every page: access gate, session start, navigation, name and share panel.

``app.py`` calls :func:`run`. Each page calls :func:`ensure` first: Streamlit runs a file of
``pages/`` on its own (without ``app.py``) when it is the first page a freshly started server
is asked for; ``ensure`` then runs the whole frame instead, so the access gate and the view
are never skipped.
"""

from __future__ import annotations

import contextlib
import locale
import threading

import streamlit as st

from ui import access, identity, session, sharing

_state = threading.local()  # each session's script runs in its own thread
# the server's locale (LANG, LC_MONETARY) gives the default currency symbol; a locale the
# machine does not have leaves "$" (formats.default_currency)
with contextlib.suppress(locale.Error):
    locale.setlocale(locale.LC_MONETARY, "")


class _PageEnd(Exception):
    """Raised by :func:`end_page`: the page has drawn all it has to show."""


def end_page() -> None:
    """End the page here, as ``st.stop()`` would, but let the frame finish: the address bar
    and the share panel are still written (``st.stop()`` drops every element after it)."""
    raise _PageEnd


def run() -> None:
    """Draw the app: gate, navigation, the current page, then the address bar and share panel."""
    st.set_page_config(page_title="KPI Explorer", page_icon=":material/monitoring:", layout="wide")
    _state.active = True
    try:
        if not access.allowed() or not session.store_ready():
            return
        link = access.take_deep_link()  # the address opened before the password screen
        if link is not None:
            st.query_params.from_dict(link.params)
        session.start()
        pages = {
            "dashboard": st.Page(
                session.PAGES["dashboard"],
                title="Dashboard",
                icon=":material/dashboard:",
                url_path="dashboard",
                default=True,
            ),
            "data": st.Page(
                session.PAGES["data"], title="Data", icon=":material/table:", url_path="data"
            ),
            "review": st.Page(
                session.PAGES["review"],
                title="Review",
                icon=":material/rate_review:",
                url_path="review",
            ),
        }
        navigation = st.navigation(list(pages.values()))
        if link is not None and navigation is not pages[link.page]:
            st.switch_page(pages[link.page])
        share_slot = st.sidebar.container()
        identity.name_field()
        try:
            navigation.run()
        except _PageEnd:
            pass
        finally:  # also after st.stop() in a page, so the URL and share link are current
            with share_slot:
                sharing.panel()
    finally:
        _state.active = False


def ensure() -> None:
    """First line of every page: run the whole app when this page was started on its own."""
    if not getattr(_state, "active", False):
        run()
        st.stop()


def page(name: str, title: str) -> None:
    """The top of every page: the frame (see :func:`ensure`), the page recorded in the view
    (the share link opens it), what the link or a button could not do, and the title."""
    ensure()
    session.on_page(name)
    session.show_link_problems()
    st.title(title)
