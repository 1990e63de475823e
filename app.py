"""KPI Explorer: the Streamlit entry point. Run with ``streamlit run app.py``."""

from __future__ import annotations

import streamlit as st

from ui import access, session, sharing

st.set_page_config(page_title="KPI Explorer", page_icon=":material/monitoring:", layout="wide")

if access.allowed():
    session.start()
    navigation = st.navigation(
        [
            st.Page(
                session.PAGES["dashboard"],
                title="Dashboard",
                icon=":material/dashboard:",
                url_path="dashboard",
                default=True,
            ),
            st.Page(session.PAGES["data"], title="Data", icon=":material/table:", url_path="data"),
            st.Page(
                session.PAGES["review"],
                title="Review",
                icon=":material/rate_review:",
                url_path="review",
            ),
        ]
    )
    share_slot = st.sidebar.container()
    st.sidebar.text_input(
        "Your name (for notes and history)",
        key="author_name",
        placeholder="anonymous",
        max_chars=200,
        disabled=bool(st.user.get("is_logged_in")),
    )
    try:
        navigation.run()
    finally:  # also after st.stop() in a page, so the URL and share link are always current
        session.write_url()
        with share_slot:
            sharing.panel()
