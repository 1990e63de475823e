"""KPI cards: value in its unit, change against the previous period, sparkline, status badge,
share of target, categories on target, owner."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpi_logic import charts, projection, score, summary
from kpi_logic.model import KPI
from kpi_logic.text import markdown_text
from ui import kpis

BADGE_COLORS = {
    score.ON_TARGET: "green",
    score.AT_RISK: "orange",
    score.OFF_TARGET: "red",
    score.ON_TRACK: "green",
    score.BEHIND: "red",
}
CARDS_PER_ROW = 4


def badge(status: str) -> str:
    """Markdown badge for a status: its symbol and word (never colour alone), coloured."""
    symbol = score.STATUS_SYMBOLS.get(status, "")
    return f":{BADGE_COLORS.get(status, 'gray')}-badge[{symbol} {status.capitalize()}]"


def card(
    index: int,
    kpi: KPI,
    facts: summary.CardFacts,
    problem: str | None,
    ahead: projection.Projection | None = None,
) -> None:
    """One KPI card: value, change vs previous period, sparkline, status, attainment, the
    chance of being on target by the due date, owner."""
    last = facts.last
    label, about = markdown_text(kpi.name), markdown_text(kpi.description) or None
    with st.container(border=True, key=f"card_{index}"):
        if problem:
            st.metric(label, "—")
            st.error(markdown_text(problem), icon=":material/error:")
            return
        if last is None:
            st.metric(label, "—", help=about)
            st.caption("No data for the current filters.")
            return
        change = last["change"]
        previous = "" if pd.isna(last["period"]) else " vs previous"
        st.metric(
            label,
            charts.format_value(last["actual"], kpi.unit),
            delta=None if pd.isna(change) else charts.format_value(change, kpi.unit, signed=True),
            delta_color="normal" if kpi.direction == "higher" else "inverse",
            delta_description=previous.strip() or None,
            chart_data=facts.sparkline if facts.periods > 1 else None,
            chart_type="line",
            help=about,
        )
        status_line = badge(last["status"])
        if pd.notna(last["attainment"]):
            status_line += f" **{last['attainment']:.0%}** of target"
        elif last["status"] == score.NO_TARGET:
            status_line += " set a target in the sidebar"
        if pd.notna(last["target"]):
            status_line += f" ({markdown_text(charts.format_value(last['target'], kpi.unit))})"
        st.markdown(status_line)
        if kpi.by:
            st.caption(f"{facts.on_target} of {facts.categories} {markdown_text(kpi.by)} on target")
        if ahead is not None and ahead.method == "known":
            verdict = "met" if ahead.probability == 1 else "missed"
            st.caption(f"Due {ahead.due:%d %b %Y}: target {verdict}")
        elif ahead is not None:
            st.caption(
                f"**{ahead.probability:.0%}** chance of being on target by {ahead.due:%d %b %Y}"
            )
        period = (
            ""
            if pd.isna(last["period"])
            else f"{charts.period_label(last['period'], kpi.grain)} · "
        )
        owner = markdown_text(kpi.owner or "nobody yet")
        st.caption(f"{period}{markdown_text(kpi.type)} · owner: {owner}")


def grid(items: list[KPI], results: pd.DataFrame, problems: dict[str, str]) -> None:
    """A card per KPI, ``CARDS_PER_ROW`` to a row."""
    facts = summary.card_facts(results)
    for start in range(0, len(items), CARDS_PER_ROW):
        row = st.columns(CARDS_PER_ROW)
        for offset, (column, kpi) in enumerate(
            zip(row, items[start : start + CARDS_PER_ROW], strict=False)
        ):
            with column:
                fact = facts.get(kpi.name, summary.CardFacts())
                problem = problems.get(kpi.name)
                ahead = None if problem else kpis.outlook(kpi, results)
                card(start + offset, kpi, fact, problem, ahead)
