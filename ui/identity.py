"""Who is making changes: the signed-in user when sign-in is on, else the name typed in the
sidebar, remembered by the browser in a cookie so the next session starts with it.

The cookie is read with ``st.context.cookies`` (sent with the session's first request, so the
very first run has the name) and written by a few lines of JavaScript mounted through
``st.components.v2`` only on the run where the name changed; the name reaches that code as
data, never as code text.
"""

from __future__ import annotations

from urllib.parse import unquote

import streamlit as st

from kpi_logic.text import plain_text

COOKIE = "kpi_author"
KEY = "author_name"  # the text field's key; ui.kpis.author() reads it
MAX_CHARS = 200
_SAVED = "author_cookie_value"  # session key: what the cookie holds, as far as this session knows
_MAX_AGE = 400 * 24 * 3600  # Chromium caps cookie lifetimes at 400 days

_WRITE_JS = f"""
export default function (component) {{
  const name = typeof component.data === "string" ? component.data : "";
  document.cookie = name
    ? "{COOKIE}=" + encodeURIComponent(name) + "; path=/; max-age={_MAX_AGE}; SameSite=Strict"
    : "{COOKIE}=; path=/; max-age=0; SameSite=Strict";
}}
"""
_write_cookie = st.components.v2.component("kpi_explorer.author_cookie", js=_WRITE_JS)


def remembered_name() -> str:
    """The name this browser remembered (its cookie), cleaned to one plain line; "" if none."""
    raw = st.context.cookies.get(COOKIE)
    if not isinstance(raw, str):  # none sent (or no browser: AppTest has no cookies)
        return ""
    return plain_text(unquote(raw)).strip()[:MAX_CHARS]


def _signed_in_name() -> str | None:
    if not st.user.get("is_logged_in"):
        return None
    return str(st.user.get("email") or st.user.get("name") or "")


def name_field() -> None:
    """The sidebar's name field: the signed-in user's (read only) when sign-in is on; else
    the name this browser remembered, and a changed name is remembered for the next session."""
    signed_in = _signed_in_name()
    if signed_in is not None:
        st.session_state[KEY] = signed_in
    elif KEY not in st.session_state:  # the session's first run
        st.session_state[KEY] = st.session_state[_SAVED] = remembered_name()
    name = st.sidebar.text_input(
        "Your name (for notes and history)",
        key=KEY,
        placeholder="anonymous",
        max_chars=MAX_CHARS,
        disabled=signed_in is not None,
    )
    if signed_in is None and name.strip() != st.session_state.get(_SAVED):
        st.session_state[_SAVED] = name.strip()
        with st.sidebar:
            _write_cookie(data=name.strip(), key="author_cookie")
