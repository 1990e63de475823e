"""KPI explorer engine: ingestion, KPI model, safe expressions, computation over DuckDB.

Pure Python over DuckDB; never imports Streamlit, so the pages, the command line and the
tests all use the same code.
"""
