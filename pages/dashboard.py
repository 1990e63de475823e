"""Dashboard: a card per KPI, then bullet, trend and heatmap charts for the selected KPI."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpi_logic import charts, score, summary
from kpi_logic.model import KPI
from ui import filters, kpis, session, shell, sidebar

shell.ensure()

BADGE_COLORS = {
    score.ON_TARGET: "green",
    score.AT_RISK: "orange",
    score.OFF_TARGET: "red",
    score.ON_TRACK: "green",
    score.BEHIND: "red",
}
CARDS_PER_ROW = 4


def badge(status: str) -> str:
    """Markdown badge for a status, coloured like the charts."""
    return f":{BADGE_COLORS.get(status, 'gray')}-badge[{status.capitalize()}]"


def card(index: int, kpi: KPI, facts: summary.CardFacts, problem: str | None) -> None:
    """One KPI card: value, change vs previous period, sparkline, status, attainment, owner."""
    last = facts.last
    with st.container(border=True, key=f"card_{index}"):
        if problem:
            st.metric(kpi.name, "—")
            st.error(problem, icon=":material/error:")
            return
        if last is None:
            st.metric(kpi.name, "—", help=kpi.description or None)
            st.caption("No data for the current filters.")
            return
        change = last["change"]
        previous = "" if pd.isna(last["period"]) else " vs previous"
        st.metric(
            kpi.name,
            charts.format_value(last["actual"], kpi.unit),
            delta=None if pd.isna(change) else charts.format_value(change, kpi.unit, signed=True),
            delta_color="normal" if kpi.direction == "higher" else "inverse",
            delta_description=previous.strip() or None,
            chart_data=facts.sparkline if facts.periods > 1 else None,
            chart_type="line",
            help=kpi.description or None,
        )
        status_line = badge(last["status"])
        if pd.notna(last["attainment"]):
            status_line += f" **{last['attainment']:.0%}** of target"
        elif last["status"] == score.NO_TARGET:
            status_line += " set a target in the sidebar"
        if pd.notna(last["target"]):
            status_line += f" ({charts.format_value(last['target'], kpi.unit)})"
        st.markdown(status_line)
        if kpi.by:
            st.caption(f"{facts.on_target} of {facts.categories} {kpi.by} on target")
        period = (
            ""
            if pd.isna(last["period"])
            else f"{charts.period_label(last['period'], kpi.grain)} · "
        )
        st.caption(f"{period}{kpi.type} · owner: {kpi.owner or 'nobody yet'}")


def explore(kpi: KPI, rows: pd.DataFrame) -> None:
    """Bullet per category, trend with target and pace, attainment heatmap of one KPI."""
    where = f" where `{kpi.filter}`" if kpi.filter else ""
    st.markdown(f"**{kpi.name}** = `{kpi.measure}`{where}")
    left, right = st.columns(2)
    cells = rows[rows["category"].notna()]
    with left:
        periods = cells["period"][cells["actual"].notna()]  # with data
        if not kpi.by or periods.empty:
            st.info("Give this KPI a category column (“by”) in the sidebar to compare categories.")
        else:
            period_rows = cells[cells["period"] == periods.max()] if kpi.time else cells
            event = st.vega_lite_chart(
                charts.bullet_chart(
                    period_rows,
                    unit=kpi.unit,
                    direction=kpi.direction,
                    good=kpi.bands.good,
                    warning=kpi.bands.warning,
                    category_title=kpi.by,
                ),
                on_select="rerun",
                selection_mode="category_pick",
                key="bullet",
                width="stretch",
            )
            picked = (event.selection or {}).get("category_pick") or []
            categories = [p["category"] for p in picked if "category" in p]
            if categories:
                filters.drill_down(kpi.by, categories)
            st.caption("Click a bar to show only that category on the whole dashboard.")
    with right:
        if not kpi.time:
            st.info("Give this KPI a date column in the sidebar to see its trend.")
        else:
            chart, pace = kpis.trend(kpi, rows)
            st.vega_lite_chart(chart, width="stretch")
            if pace is not None:
                st.markdown(
                    f"Pace to {kpi.due:%d %b %Y}: {badge(pace.status)} expected by "
                    f"{pace.as_of:%d %b} {charts.format_value(pace.expected, kpi.unit)}, "
                    f"projected {charts.format_value(pace.projected, kpi.unit)} against "
                    f"{charts.format_value(pace.target, kpi.unit)}."
                )
            elif kpi.due:
                st.caption(
                    f"Due {kpi.due:%d %b %Y}: no pace yet (its period has no data or no target)."
                )
    if kpi.by and kpi.time:
        if cells["attainment"].notna().any():
            st.vega_lite_chart(
                charts.heatmap(
                    cells,
                    unit=kpi.unit,
                    good=kpi.bands.good,
                    warning=kpi.bands.warning,
                    grain=kpi.grain,
                    category_title=kpi.by,
                ),
                width="stretch",
            )
        else:
            st.info(f"Set a target per {kpi.by} to see attainment by category and period.")


session.on_page("dashboard")
session.show_link_problems()
st.title("KPI dashboard")
dataset = kpis.current_dataset()
if dataset is None:
    st.info("There is no dataset yet. Upload a spreadsheet export on the Data page to begin.")
    st.page_link(session.PAGES["data"], label="Go to the Data page", icon=":material/upload:")
    st.stop()

kpi_set = kpis.current_kpi_set(dataset)
saved, items = kpis.live_kpis(dataset, kpi_set)
st.caption(f"{dataset.name} · {dataset.rows:,} rows · KPI set “{kpi_set.name}”")
if not items:
    sidebar.draw(dataset, kpi_set, saved, items, None)
    st.info(
        "This dataset has no KPI yet. Add one with **Add a KPI** in the sidebar, start from a "
        "template there, or import a KPI file."
    )
    st.stop()

filters.render(dataset, items)
filtered = [c for c, values in session.view().filters.items() if values]
partial = [k.name for k in items if any(c != k.by for c in filtered)]
if partial:
    st.caption(
        f"Filtered by {', '.join(filtered)}: the targets of {', '.join(partial)} are set for "
        "every value of that column, so their attainment compares a part with a whole target."
    )
results, problems = kpis.scored(dataset, items)
sidebar.draw(dataset, kpi_set, saved, items, results)
if results["actual"].notna().sum() == 0 and not problems:
    st.warning(
        "No rows match the current filters. Widen the date range or clear the category filter."
    )
    if st.button("Clear filters", key="clear_filters"):
        filters.clear()
    st.stop()

facts = summary.card_facts(results)
for start in range(0, len(items), CARDS_PER_ROW):
    row = st.columns(CARDS_PER_ROW)
    for offset, (column, kpi) in enumerate(
        zip(row, items[start : start + CARDS_PER_ROW], strict=False)
    ):
        with column:
            fact = facts.get(kpi.name, summary.CardFacts())
            card(start + offset, kpi, fact, problems.get(kpi.name))

st.divider()
st.session_state["kpi_pick"] = kpis.selected_name(items)
picked = st.selectbox(
    "KPI to explore",
    [k.name for k in items],
    key="kpi_pick",
    on_change=lambda: session.set_view(kpi=st.session_state["kpi_pick"]),
)
if picked in problems:
    st.error(f"{problems[picked]} Fix it with **Edit** in the sidebar.", icon=":material/error:")
else:
    kpi = next(k for k in items if k.name == picked)
    explore(kpi, results[results["kpi"] == kpi.name])
