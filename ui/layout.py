"""Layout helpers shared by the pages."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator


def lazy_expander(
    label: str, key: str, *, icon: str | None = None, expanded: bool = False
) -> DeltaGenerator | None:
    """An expander that reruns the app when opened or closed: the container while it is open,
    None while it is closed, so a closed section costs no widgets on a rerun (a target move
    redraws only what is visible). Open it from code with ``st.session_state[key] = True``."""
    box = st.expander(label, expanded, key=key, icon=icon, on_change="rerun")
    return box if box.open else None
