"""Review: per KPI its owner, status, attainment, pace and last note; check-in notes; the
history of target and definition changes; exports of results and charts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpi_logic import score, summary, versions
from kpi_logic.errors import KPIExplorerError
from kpi_logic.model import KPI
from kpi_logic.store import KPISet, Note
from kpi_logic.text import markdown_text, plain_text
from ui import exports, kpis, session, shell
from ui import versions as version_ui


def overview(rows: list[dict]) -> None:
    """Every KPI's owner, status, attainment, pace and last note in one table."""
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "Attainment": st.column_config.ProgressColumn(
                "Attainment", format="percent", min_value=0.0, max_value=1.5
            ),
            "Pace": st.column_config.TextColumn("Pace to due date", width="large"),
            "Last note": st.column_config.TextColumn("Last note", width="large"),
        },
    )


def check_in(kpi_set: KPISet, items: list[KPI], notes: list[Note]) -> str:
    """Add a note on a KPI and list that KPI's notes; returns the KPI picked."""
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
        if st.form_submit_button("Add note", type="primary"):
            _add_note(kpi_set, chosen, text, status)
    own = [n for n in notes if n.kpi_name == chosen]
    if not own:
        st.caption(f"No notes on {markdown_text(chosen)} yet.")
        return chosen
    table = {
        "When": [n.created_at for n in own],
        "Author": [n.author or "anonymous" for n in own],
        "Status": [n.status for n in own],
        "Note": [n.text for n in own],
    }
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch", key="notes_table")
    return chosen


def _add_note(kpi_set: KPISet, kpi_name: str, text: str, status: str) -> None:
    if not text.strip():
        st.warning("Write something before adding the note.")
        return
    try:
        session.store().add_note(
            session.cursor(), kpi_set.id, kpi_name, kpis.author(), text.strip(), status or None
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
overview(summary.review_rows(items, results, problems, summary.last_notes(notes)))
chosen = check_in(kpi_set, items, notes)
version_ui.history(dataset, kpi_set)
exports.section(items, results, chosen)
