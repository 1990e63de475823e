"""Layout helpers shared by the pages."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from kpi_logic.text import markdown_text

_NOTICES = "action_notices"  # session key: messages of the actions that could not act


def lazy_expander(
    label: str, key: str, *, icon: str | None = None, expanded: bool = False
) -> DeltaGenerator | None:
    """An expander that reruns the app when opened or closed: the container while it is open,
    None while it is closed, so a closed section costs no widgets on a rerun (a target move
    redraws only what is visible). Open it from code with ``st.session_state[key] = True``."""
    box = st.expander(label, expanded, key=key, icon=icon, on_change="rerun")
    return box if box.open else None


def action_button(
    label: str, key: str, action: Callable[..., str | None], *args: object, **kwargs: object
) -> None:
    """A button that runs ``action(*args)`` on its click, with the arguments it was drawn
    with (the id of what it acts on), never with whatever is selected on the run after the
    click. A message ``action`` returns (why it could not act) is shown at the top of the
    page by :func:`show_action_notices`, as text (it may quote names)."""

    def clicked() -> None:
        if message := action(*args):
            st.session_state.setdefault(_NOTICES, []).append(message)

    st.button(label, key=key, on_click=clicked, **kwargs)


def show_action_notices() -> None:
    """Show, once, why the buttons clicked on the last run could not act."""
    for message in st.session_state.pop(_NOTICES, []):
        st.error(markdown_text(message), icon=":material/error:")
