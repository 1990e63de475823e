"""Optional access control for a hosted app: an app password, or OIDC login when configured.

- ``app_password = "..."`` in ``.streamlit/secrets.toml`` asks every visitor for it once per
  session.
- An ``[auth]`` section in secrets (see Streamlit's ``st.login`` docs) makes visitors log in
  with that identity provider instead.
- With neither, the app is open (the default for local use).
"""

from __future__ import annotations

import hmac

import streamlit as st


def _secret(name: str) -> object | None:
    try:
        return st.secrets.get(name)
    except FileNotFoundError:  # no secrets.toml at all
        return None


def allowed() -> bool:
    """Return True when the visitor may see the app; otherwise draw the gate and return False."""
    if _secret("auth"):
        if st.user.is_logged_in:
            st.sidebar.caption(f"Signed in as {st.user.get('email') or st.user.get('name')}")
            st.sidebar.button("Log out", on_click=st.logout)
            return True
        st.title("KPI Explorer")
        st.button("Log in", on_click=st.login, type="primary")
        return False
    password = _secret("app_password")
    if not password or st.session_state.get("access_granted"):
        return True
    st.title("KPI Explorer")
    typed = st.text_input("App password", type="password", key="app_password_input")
    if typed:
        if hmac.compare_digest(typed.encode(), str(password).encode()):
            st.session_state["access_granted"] = True
            st.rerun()
        st.error("That password is not right.")
    return False
