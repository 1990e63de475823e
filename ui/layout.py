"""Layout helpers shared by the pages."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

_NOTICES = "action_notices"  # session key: button key -> message of its last action


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
    click; a message ``action`` returns is shown where the button is drawn next."""

    def clicked() -> None:
        message = action(*args)
        if message:
            st.session_state.setdefault(_NOTICES, {})[key] = message

    st.button(label, key=key, on_click=clicked, **kwargs)
    if message := st.session_state.get(_NOTICES, {}).pop(key, None):
        st.error(message, icon=":material/error:")
