"""The Review page's sections: every KPI's row (status with its symbol), the periods a note
may be tied to, and the digest for the review meeting (view and download as HTML or
Markdown)."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import streamlit as st

from kpi_logic import digest, score
from kpi_logic.compute import Record
from kpi_logic.model import KPI
from kpi_logic.store import Dataset, KPISet, Note
from kpi_logic.text import markdown_text
from ui import session
from ui.layout import lazy_expander


def overview(rows: list[dict]) -> None:
    """Every KPI's owner, status (symbol and word), attainment, pace and last note."""
    frame = pd.DataFrame(rows)
    if "Status" in frame:
        frame["Status"] = [
            f"{score.STATUS_SYMBOLS[s]} {s}" if s in score.STATUS_SYMBOLS else s
            for s in frame["Status"]
        ]
    if "Attainment" in frame:  # in percent, rounded as on the cards ("86%")
        frame["Attainment"] = frame["Attainment"].astype("float64") * 100
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "Attainment": st.column_config.ProgressColumn(
                "Attainment", format="%.0f%%", min_value=0.0, max_value=150.0
            ),
            "Pace": st.column_config.TextColumn("Pace to due date", width="large"),
            "Last note": st.column_config.TextColumn("Last note", width="large"),
        },
    )


def periods_of(kpi: KPI, results: list[Record]) -> list[date]:
    """The periods ``kpi`` has data for, newest first (a note may be tied to one)."""
    if not kpi.time:
        return []
    rows = [r for r in results if r["kpi"] == kpi.name and r["category"] is None]
    return sorted({r["period"] for r in rows if isinstance(r["period"], date)}, reverse=True)


@st.cache_data(max_entries=32, show_spinner="Writing the digest…")
def _pages(
    _cur: duckdb.DuckDBPyConnection,
    table: str,
    revision: str,
    kpis_key: str,
    notes_key: tuple[str, ...],
    title: str,
    _kpis: tuple[KPI, ...],
    _notes: tuple[Note, ...],
) -> tuple[str, str]:
    """The digest as Markdown and HTML, cached by data, KPIs (targets included) and notes."""
    page = digest.digest_for(_cur, table, list(_kpis), list(_notes), title=title)
    return digest.to_markdown(page), digest.to_html(page)


def digest_section(dataset: Dataset, kpi_set: KPISet, items: list[KPI], notes: list[Note]) -> None:
    """The review meeting's digest, drawn while its section is open, with its downloads."""
    box = lazy_expander("Digest for the review meeting", key="digest_open", icon=":material/mail:")
    if box is None:
        return
    title = f"KPI review: {kpi_set.name}"
    markdown, page = _pages(
        session.cursor(), dataset.table, dataset.content_hash, repr(items),
        tuple(n.id for n in notes), title, tuple(items), tuple(notes),
    )  # fmt: skip
    day = f"{date.today():%Y-%m-%d}"
    left, right = box.columns(2)
    left.download_button(
        "Digest as HTML", page, file_name=f"kpi_digest_{day}.html", mime="text/html",
        key="digest_html",
    )  # fmt: skip
    right.download_button(
        "Digest as Markdown", markdown, file_name=f"kpi_digest_{day}.md", mime="text/markdown",
        key="digest_md",
    )  # fmt: skip
    box.caption(
        "The same page comes from the command line for a scheduled job: "
        f"`python -m kpi_logic digest DATA --kpis FILE --format html`. "
        f"{markdown_text(dataset.name)} as loaded in the app; filters do not apply."
    )
    with box.container(border=True, key="digest_view"):
        st.markdown(markdown)
