"""Start the app warm: ``streamlit run serve.py`` serves ``app.py`` after running it once.

``streamlit run app.py`` loads nothing before the first visitor, who then waits for the
libraries to import, the store to open and the sample's KPIs to be computed (about 2.5 s of
the first dashboard, bench/RESULTS.md section 11c). Here Streamlit's ``st.App`` runs the app
once at start, in a session of its own whose page goes nowhere (Streamlit's own script health
check), before the server answers its health check; the first visitor finds it all loaded.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st
from streamlit.runtime import Runtime


@asynccontextmanager
async def warm_up(_app: st.App) -> AsyncIterator[None]:
    """Run ``app.py`` once before serving; a failure is logged and the app starts anyway."""
    ran, outcome = await Runtime.instance().does_script_run_without_error()
    if not ran:
        print(f"serve.py: warming up app.py failed ({outcome}); starting cold", file=sys.stderr)
    yield


app = st.App("app.py", lifespan=warm_up)
