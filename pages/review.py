"""Review: per KPI its owner, status, attainment, pace and last note; the digest for the
review meeting; check-in notes (tied to a period if wished); the history of target and
definition changes; exports of results and charts."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from kpi_logic import charts, score, summary, versions
from kpi_logic.compute import Record
from kpi_logic.errors import KPIExplorerError
from kpi_logic.model import KPI
from kpi_logic.store import KPISet, Note
from kpi_logic.text import markdown_text, plain_text
from ui import exports, kpis, review, session, shell
from ui import versions as version_ui


def check_in(kpi_set: KPISet, items: list[KPI], notes: list[Note], results: list[Record]) -> str:
    """Add a note on a KPI (tied to one of its periods if wished) and list that KPI's notes;
    returns the KPI picked."""
    st.subheader("Check-in")
    st.session_state["note_kpi"] = kpis.selected_name(items)
    chosen = st.selectbox(
        "KPI",
        [k.name for k in items],
        format_func=plain_text,
        key="note_kpi",
        on_change=lambda: session.set_view(kpi=st.session_state["note_kpi"]),
    )
    with st.form("note_form", clear_on_submit=True):
        text = st.text_area(
            "Note", max_chars=10_000, placeholder="Why did it move? What are we doing about it?"
        )
        status = st.selectbox("Status (optional)", ["", *score.NOTE_STATUSES])
        kpi = next(k for k in items if k.name == chosen)
        period = st.selectbox(
            "About the period (optional)",
            [None, *review.periods_of(kpi, results)],
            format_func=lambda p: "" if p is None else charts.period_label(p, kpi.grain),
            key="note_period",
        )
        if st.form_submit_button("Add note", type="primary"):
            _add_note(kpi_set, chosen, text, status, period)
    own = [n for n in notes if n.kpi_name == chosen]
    if not own:
        st.caption(f"No notes on {markdown_text(chosen)} yet.")
        return chosen
    table = {
        "When": [n.created_at for n in own],
        "Author": [n.author or "anonymous" for n in own],
        "Status": [n.status for n in own],
        "Period": [n.period for n in own],
        "Note": [n.text for n in own],
    }
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch", key="notes_table")
    return chosen


def _add_note(kpi_set: KPISet, kpi_name: str, text: str, status: str, period: date | None) -> None:
    if not text.strip():
        st.warning("Write something before adding the note.")
        return
    try:
        session.store().add_note(
            session.cursor(),
            kpi_set.id,
            kpi_name,
            kpis.author(),
            text.strip(),
            status or None,
            period,
        )
    except KPIExplorerError as err:
        st.error(f"The note was not saved: {markdown_text(err)}")
        return
    st.toast("Note added.")
    st.rerun()  # so the overview shows it as the last note


shell.page("review", "Review")
dataset = kpis.current_dataset()
if dataset is None:
    st.info("There is no dataset yet. Upload one on the Data page.")
    shell.end_page()
kpi_set = kpis.current_kpi_set(dataset)
_, items = kpis.live_kpis(dataset, kpi_set)
st.caption(
    f"{markdown_text(versions.caption(dataset))} · KPI set “{markdown_text(kpi_set.name)}” · "
    f"KPI set version {kpi_set.version}"
)
if not items:
    st.info("This dataset has no KPI yet. Add one on the Dashboard.")
    shell.end_page()
results, problems = kpis.scored(dataset, items)
notes = session.store().notes(session.cursor(), kpi_set.id)  # newest first, one query
review.overview(summary.review_rows(items, results, problems, summary.last_notes(notes)))
review.digest_section(dataset, kpi_set, items, notes)
chosen = check_in(kpi_set, items, notes, results)
version_ui.history(dataset, kpi_set)
exports.section(dataset, kpi_set, items, results, chosen)
