"""Review: per KPI its owner, status, attainment, pace and last note; check-in notes; the
history of target and definition changes; exports of results and charts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpi_logic import export, score, summary
from kpi_logic.errors import KPIExplorerError
from ui import kpis, session, shell

shell.ensure()

STATUS_MARKS = {
    score.ON_TARGET: "🟢",
    score.AT_RISK: "🟠",
    score.OFF_TARGET: "🔴",
    score.ON_TRACK: "🟢",
    score.BEHIND: "🔴",
}


def marked(status: str) -> str:
    """A status with a coloured mark, e.g. ``🟢 on target`` (grey for the rest)."""
    return f"{STATUS_MARKS.get(status, '⚪')} {status}"


session.on_page("review")
session.show_link_problems()
st.title("Review")
dataset = kpis.current_dataset()
if dataset is None:
    st.info("There is no dataset yet. Upload one on the Data page.")
    st.stop()
kpi_set = kpis.current_kpi_set(dataset)
_, items = kpis.live_kpis(dataset, kpi_set)
st.caption(f"{dataset.name} · KPI set “{kpi_set.name}” · version {kpi_set.version}")
if not items:
    st.info("This dataset has no KPI yet. Add one on the Dashboard.")
    st.stop()

store, cur = session.store(), session.cursor()
results, problems = kpis.scored(dataset, items)
facts = summary.card_facts(results)


all_notes = store.notes(cur, kpi_set.id)  # newest first: one query for the whole page
overview = pd.DataFrame(
    summary.review_rows(items, results, problems, summary.last_notes(all_notes))
)
st.dataframe(
    overview,
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

st.subheader("Check-in")
names = [k.name for k in items]
st.session_state["note_kpi"] = kpis.selected_name(items)
chosen = st.selectbox(
    "KPI",
    names,
    key="note_kpi",
    on_change=lambda: session.set_view(kpi=st.session_state["note_kpi"]),
)
with st.form("note_form", clear_on_submit=True):
    text = st.text_area(
        "Note", max_chars=10_000, placeholder="Why did it move? What are we doing about it?"
    )
    status = st.selectbox("Status (optional)", ["", *score.NOTE_STATUSES])
    if st.form_submit_button("Add note", type="primary"):
        if not text.strip():
            st.warning("Write something before adding the note.")
        else:
            try:
                store.add_note(cur, kpi_set.id, chosen, kpis.author(), text.strip(), status or None)
            except KPIExplorerError as err:
                st.error(f"The note was not saved: {err}")
            else:
                st.toast("Note added.")
                st.rerun()  # so the overview shows it as the last note
notes = [n for n in all_notes if n.kpi_name == chosen]
if notes:
    st.dataframe(
        pd.DataFrame(
            {
                "When": [n.created_at for n in notes],
                "Author": [n.author or "anonymous" for n in notes],
                "Status": [n.status for n in notes],
                "Note": [n.text for n in notes],
            }
        ),
        hide_index=True,
        width="stretch",
        key="notes_table",
    )
else:
    st.caption(f"No notes on {chosen} yet.")

st.subheader("History of targets and definitions")
history = store.history(cur, kpi_set.id)
if history:
    st.dataframe(
        pd.DataFrame(
            {
                "When": [h.changed_at for h in history],
                "Who": [h.author or "anonymous" for h in history],
                "Version": [h.version for h in history],
                "Change": [h.summary for h in history],
            }
        ),
        hide_index=True,
        width="stretch",
        key="history_table",
    )
else:
    st.caption("No change since this KPI set was created.")

st.subheader("Export")
table = results.drop(columns=["additive"], errors="ignore").assign(
    period=results["period"].astype("string"), as_of=results["as_of"].astype("string")
)
left, middle, right = st.columns(3)
# Every export is made on click (a callable), so it reaches Streamlit's /media/ route only then
# (see README, "Hosting for a team").
left.download_button(
    "Results as CSV",
    lambda: export.to_csv_bytes(table),
    file_name="kpi_results.csv",
    mime="text/csv",
    key="export_csv",
)
middle.download_button(
    "Results as Excel",
    lambda: export.to_excel_bytes(table),
    file_name="kpi_results.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    key="export_xlsx",
)
selected = next(k for k in items if k.name == chosen)
if selected.time and chosen in facts and facts[chosen].last is not None:
    chart, _ = kpis.trend(selected, results, title=f"{selected.name}: trend")
    right.download_button(
        f"Trend of {chosen} as PNG",
        lambda: export.chart_png(chart),
        file_name="kpi_trend.png",
        mime="image/png",
        key="export_png",
    )
else:
    right.caption("The chart export needs a KPI with a date column and data.")
