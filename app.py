"""KPI Explorer: the Streamlit entry point. Run with ``streamlit run app.py``."""

from ui import shell

shell.run()
