"""Dashboard: a card per KPI, then bullet, trend and heatmap charts for the selected KPI."""

from __future__ import annotations

import streamlit as st

from kpi_logic import projection, score, targets, versions, windows
from kpi_logic.compute import Record
from kpi_logic.model import KPI
from kpi_logic.store import Dataset, KPISet
from kpi_logic.text import markdown_text, plain_text
from ui import (
    cards,
    explore,
    exports,
    filters,
    kpi_editor,
    kpis,
    session,
    shell,
    sidebar,
    suggestions,
)


def no_dataset() -> None:
    """What to do on an empty store."""
    st.info("There is no dataset yet. Upload a spreadsheet export on the Data page to begin.")
    st.page_link(session.PAGES["data"], label="Go to the Data page", icon=":material/upload:")
    st.stop()


def judged_on_a_part(items: list[KPI]) -> None:
    """Which KPIs the category filters compare with a whole target."""
    filtered = [c for c, values in session.view().filters.items() if values]
    if partial := targets.judged_on_a_part(items, filtered):
        st.caption(
            f"Filtered by {markdown_text(', '.join(filtered))}: the targets of "
            f"{markdown_text(', '.join(partial))} are set "
            "for every value of that column, so their attainment compares a part with a whole "
            "target."
        )


def nothing_matches() -> None:
    """The filters leave no rows: say so and offer to clear them."""
    st.warning(
        "No rows match the current filters. Widen the date range or clear the category filter."
    )
    if st.button("Clear filters", key="clear_filters"):
        filters.clear()


@st.fragment(key=session.VIEW_FRAGMENT)
def kpi_view(dataset: Dataset, kpi_set: KPISet) -> None:
    """The cards, the dashboard download and the selected KPI explored, scored against the
    view's targets. A fragment: a moved target redraws it (with the targets panel and the
    link, ``session.rerun_view``), not the page around it."""
    _, items = kpis.live_kpis(dataset, kpi_set)
    judged_on_a_part(items)
    results, problems = kpis.scored(dataset, items)
    if all(score.is_missing(r["actual"]) for r in results) and not problems:
        nothing_matches()
        return
    window = kpis.windowed(dataset, items, problems)
    if window is not None:
        st.caption(
            f"Cards: {windows.WINDOW_LABELS[session.view().window or 'period'].lower()}, "
            "against the window's target and the same days last year."
        )
    ahead = kpis.outlooks(items, results, problems)
    cards.grid(items, results, problems, window, ahead)
    exports.dashboard_download(dataset, kpi_set, items, results, problems, window)
    explore_section(dataset, kpi_set, items, results, problems, ahead)


def pick_kpi() -> None:
    """The KPI picked to explore: the whole page follows (the sidebar shows its targets)."""
    session.set_view(kpi=st.session_state["kpi_pick"])
    st.rerun()


def explore_section(
    dataset: Dataset,
    kpi_set: KPISet,
    items: list[KPI],
    results: list[Record],
    problems: dict[str, str],
    ahead: dict[str, projection.Projection | None],
) -> None:
    """Pick a KPI and explore it (or see why it could not be computed)."""
    st.divider()
    st.session_state["kpi_pick"] = kpis.selected_name(items)
    picked = st.selectbox(
        "KPI to explore",
        [k.name for k in items],
        format_func=plain_text,
        key="kpi_pick",
        on_change=pick_kpi,
    )
    if picked in problems:
        st.error(
            f"{markdown_text(problems[picked])} Fix it with **Edit** at the top of the page.",
            icon=":material/error:",
        )
        return
    kpi = next(k for k in items if k.name == picked)
    notes = session.store().notes(session.cursor(), kpi_set.id, kpi.name)
    explore.draw(dataset, kpi, kpis.rows_of(results, kpi.name), notes, ahead.get(kpi.name))


shell.page("dashboard", "KPI dashboard")
dataset = kpis.current_dataset()
if dataset is None:
    no_dataset()
kpi_set = kpis.current_kpi_set(dataset)
saved, items = kpis.live_kpis(dataset, kpi_set)
st.caption(f"{markdown_text(versions.caption(dataset))} · KPI set “{markdown_text(kpi_set.name)}”")
kpi_editor.draw(dataset, kpi_set, saved)
if not items:
    sidebar.draw(dataset, kpi_set, saved, targets=False)
    suggestions.offer(dataset)
    st.info(
        "This dataset has no KPI yet. Add one with **Add a KPI** above (or start from a "
        "template there), or import a KPI file in the sidebar."
    )
    shell.end_page()
filters.render(dataset, items)
kpi_view(dataset, kpi_set)
sidebar.draw(dataset, kpi_set, saved, targets=True)
