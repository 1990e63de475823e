"""KPI cards: value in its unit, change against the previous period, sparkline, status badge,
share of target, categories on target, owner."""

from __future__ import annotations

import streamlit as st

from kpi_logic import charts, projection, score, summary
from kpi_logic.compute import Record
from kpi_logic.model import KPI
from kpi_logic.text import markdown_text

BADGE_COLORS = {
    score.ON_TARGET: "green",
    score.AT_RISK: "orange",
    score.OFF_TARGET: "red",
    score.ON_TRACK: "green",
    score.BEHIND: "red",
}
CARDS_PER_ROW = 4
TREND_COLORS = {"better": "green", "worse": "red", "flat": "gray"}  # summary.trend_verdict


def _metric_color(kpi: KPI, sparkline: list[float]) -> str:
    """The colour of a card's delta and sparkline (Streamlit gives both one colour): the
    KPI's direction over the sparkline's whole window (``summary.trend_verdict``); without
    a sparkline, the delta's own (better or worse for this KPI)."""
    if len(sparkline) > 1:
        return TREND_COLORS[summary.trend_verdict(sparkline, kpi.direction)]
    return "normal" if kpi.direction == "higher" else "inverse"


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
        previous = "" if last["period"] is None else " vs previous"
        st.metric(
            label,
            charts.format_value(last["actual"], kpi.unit, currency=kpi.currency),
            delta=None
            if score.is_missing(change)
            else charts.format_value(change, kpi.unit, signed=True, currency=kpi.currency),
            delta_color=_metric_color(kpi, facts.sparkline if facts.periods > 1 else []),
            delta_description=previous.strip() or None,
            chart_data=facts.sparkline if facts.periods > 1 else None,
            chart_type="line",
            help=about,
        )
        st.markdown(_status_line(kpi, last))
        if kpi.by:
            st.caption(f"{facts.on_target} of {facts.categories} {markdown_text(kpi.by)} on target")
            _allocation_note(kpi, last)
        if ahead is not None and ahead.method == "known":
            verdict = "met" if ahead.probability == 1 else "missed"
            st.caption(f"Due {ahead.due:%d %b %Y}: target {verdict}")
        elif ahead is not None:
            st.caption(
                f"**{ahead.probability:.0%}** chance of being on target by {ahead.due:%d %b %Y}"
            )
        period = (
            "" if last["period"] is None else f"{charts.period_label(last['period'], kpi.grain)} · "
        )
        owner = markdown_text(kpi.owner or "nobody yet")
        st.caption(f"{period}{markdown_text(kpi.type)} · owner: {owner}")


def window_card(index: int, kpi: KPI, rows: list[Record], sparkline: list[float]) -> None:
    """A KPI's card for a time window: the window's actual against its target and against
    the same days last year, the categories on target over the window, and its dates."""
    total = next(r for r in rows if r["category"] is None)
    label, about = markdown_text(kpi.name), markdown_text(kpi.description) or None
    with st.container(border=True, key=f"card_{index}"):
        change = total["change_vs_last_year"]
        st.metric(
            label,
            charts.format_value(total["actual"], kpi.unit, currency=kpi.currency),
            delta=None
            if score.is_missing(change)
            else charts.format_value(change, kpi.unit, signed=True, currency=kpi.currency),
            delta_color=_metric_color(kpi, sparkline),
            delta_description="vs same days last year",
            chart_data=sparkline if len(sparkline) > 1 else None,
            chart_type="line",
            help=about,
        )
        st.markdown(_status_line(kpi, total))
        last_year = charts.format_value(total["last_year"], kpi.unit, currency=kpi.currency)
        st.caption(f"Same days last year: {markdown_text(last_year)}")
        if kpi.by:
            cells = [r for r in rows if r["category"] is not None]
            on = sum(r["status"] == score.ON_TARGET for r in cells)
            st.caption(f"{on} of {len(cells)} {markdown_text(kpi.by)} on target")
            _allocation_note(kpi, total)
        st.caption(_window_caption(total))


def _window_caption(total: Record) -> str:
    """Which days the window covers, and whether its last period is still running."""
    start, end = total["window_start"], total["window_end"]
    if start is None:
        return "All time: this KPI has no date column, so the date filter and window don't apply"
    partial = " · partial: compared with the same days" if total["partial"] else ""
    return f"{start:%d %b %Y} – {end:%d %b %Y}{partial}"


def _status_line(kpi: KPI, last: Record) -> str:
    """The badge, the share of target (or the gap to a target of 0) and the target."""
    line = badge(last["status"])
    target = last["target"]
    if not score.is_missing(last["attainment"]):
        line += f" **{last['attainment']:.0%}** of target"
    elif last["status"] == score.NO_TARGET:
        line += " set a target in the sidebar"
    elif not score.is_missing(target):  # a target of 0: the gap, not a division by zero
        gap = charts.format_value(
            last["actual"] - target, kpi.unit, signed=True, currency=kpi.currency
        )
        line += f" **{markdown_text(gap)}** against target"
    if not score.is_missing(target):
        line += f" ({markdown_text(charts.format_value(target, kpi.unit, currency=kpi.currency))})"
    return line


def _allocation_note(kpi: KPI, last: Record) -> None:
    """Where a total target and the categories' targets disagree, how much is unallocated."""
    allocated, target = last.get("allocated"), last["target"]
    if score.is_missing(allocated) or score.is_missing(target) or allocated == target:
        return
    by = markdown_text(kpi.by or "")
    parts, whole, rest = (
        markdown_text(charts.format_value(v, kpi.unit, currency=kpi.currency))
        for v in (allocated, target, abs(target - allocated))
    )
    gap = f"{rest} unallocated" if target > allocated else f"{rest} over it"
    st.caption(f"{by} targets add up to {parts} of the {whole} total: {gap}")


def grid(
    items: list[KPI],
    results: list[Record],
    problems: dict[str, str],
    window: list[Record] | None,
    ahead: dict[str, projection.Projection | None],
) -> None:
    """A card per KPI, ``CARDS_PER_ROW`` to a row; with ``window`` (the view's scorecard) each
    card judges its KPI over the time window; ``ahead``: each KPI's projection."""
    facts = summary.card_facts(results)
    for start in range(0, len(items), CARDS_PER_ROW):
        row = st.columns(CARDS_PER_ROW)
        for offset, (column, kpi) in enumerate(
            zip(row, items[start : start + CARDS_PER_ROW], strict=False)
        ):
            with column:
                fact = facts.get(kpi.name, summary.CardFacts())
                problem = problems.get(kpi.name)
                rows = [r for r in window or [] if r["kpi"] == kpi.name]
                if rows and problem is None:
                    window_card(start + offset, kpi, rows, fact.sparkline)
                else:
                    card(start + offset, kpi, fact, problem, ahead.get(kpi.name))
