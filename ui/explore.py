"""The selected KPI explored: a bullet per category (a click drills down), the trend with its
target, pace, forecast interval to the due date and check-in notes, the attainment heatmap by
category and period, and what drives its gap; every chart with its table one click away."""

from __future__ import annotations

import streamlit as st

from kpi_logic import charts, projection, score, scorecard, windows
from kpi_logic.compute import Record
from kpi_logic.model import KPI
from kpi_logic.store import Dataset, Note
from kpi_logic.text import markdown_text
from ui import explain, filters, kpis, session
from ui.cards import badge

_SHOWN = ["category", "period", "actual", "target", "attainment", "status"]


def draw(
    dataset: Dataset,
    kpi: KPI,
    rows: list[Record],
    notes: list[Note],
    ahead: projection.Projection | None,
) -> None:
    """Bullet per category, trend with target, pace, interval and notes, attainment heatmap
    and the contributions to the gap of one KPI."""
    where = f" where {markdown_text(kpi.filter)}" if kpi.filter else ""
    st.markdown(f"**{markdown_text(kpi.name)}** = {markdown_text(kpi.measure)}{where}")
    left, right = st.columns(2)
    cells = [r for r in rows if r["category"] is not None]
    with left:
        periods = [r["period"] for r in cells if not score.is_missing(r["actual"])]  # with data
        if not kpi.by or not periods:
            st.info("Give this KPI a category column (**Edit**, at the top) to compare categories.")
        else:
            latest = max(periods) if kpi.time else None
            period_rows = [r for r in cells if r["period"] == latest] if kpi.time else cells
            event = st.vega_lite_chart(
                charts.bullet_chart(
                    period_rows,
                    unit=kpi.unit,
                    direction=kpi.direction,
                    good=kpi.bands.good,
                    warning=kpi.bands.warning,
                    category_title=kpi.by,
                    currency=kpi.currency,
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
            explain.table_alternative("actual against target", "bullet", period_rows, _SHOWN)
    with right:
        if not kpi.time:
            st.info("Give this KPI a date column (**Edit**, at the top) to see its trend.")
        else:
            chart, pace = kpis.trend(kpi, rows, notes=notes, ahead=ahead)
            st.vega_lite_chart(chart, width="stretch", key="trend_chart")
            _partial_note(dataset, kpi)
            _cumulative(dataset, kpi, rows)
            _outlook(kpi, ahead)
            if pace is not None:
                expected, projected, target = (
                    markdown_text(charts.format_value(v, kpi.unit, currency=kpi.currency))
                    for v in (pace.expected, pace.projected, pace.target)
                )
                st.markdown(
                    f"Pace to {kpi.due:%d %b %Y}: {badge(pace.status)} expected by "
                    f"{pace.as_of:%d %b} {expected}, projected {projected} against {target}."
                )
            elif kpi.due:
                st.caption(
                    f"Due {kpi.due:%d %b %Y}: no pace yet (its period has no data or no target)."
                )
            totals = [r for r in rows if r["category"] is None]
            explain.table_alternative("trend", "trend", totals, _SHOWN[1:])
    if kpi.by and kpi.time:
        if any(not score.is_missing(r["attainment"]) for r in cells):
            st.vega_lite_chart(
                charts.heatmap(
                    cells,
                    unit=kpi.unit,
                    good=kpi.bands.good,
                    warning=kpi.bands.warning,
                    grain=kpi.grain,
                    category_title=kpi.by,
                    currency=kpi.currency,
                ),
                width="stretch",
            )
            explain.table_alternative("attainment by category and period", "heatmap", cells, _SHOWN)
        else:
            st.info(
                f"Set a target per {markdown_text(kpi.by)} to see attainment by category and "
                "period."
            )
    if kpi.by:
        explain.section(dataset, kpi, rows)


def _cumulative(dataset: Dataset, kpi: KPI, rows: list[Record]) -> None:
    """With a time window picked, a sum's or a count's running total through the window
    against the target curve and last year."""
    choice = kpis.window_choice()
    dates = filters.date_span(dataset, kpi.time or "")
    if choice is None or dates is None or not rows or not rows[0]["additive"]:
        return
    span = scorecard.span_of(kpi, choice, *dates)
    running = windows.cumulative(kpi, rows, span)
    title = f"{windows.WINDOW_LABELS[choice.kind]}: cumulative"
    st.vega_lite_chart(
        charts.cumulative_chart(
            running, unit=kpi.unit, grain=kpi.grain, title=title, currency=kpi.currency
        ),
        width="stretch",
        key="cumulative_chart",
    )
    explain.table_alternative(
        title, "cumulative", running, ["period", "actual", "target", "last_year"]
    )


def _partial_note(dataset: Dataset, kpi: KPI) -> None:
    """Say which periods of the trend the data (within the date filter) covers only in part."""
    span = filters.date_span(dataset, kpi.time or "")
    if span is None:
        return
    view = session.view()
    first, last = max(span[0], view.start or span[0]), min(span[1], view.end or span[1])
    parts = [
        f"{charts.period_label(p, kpi.grain)} ({start:%d %b} – {end:%d %b %Y})"
        for p, start, end in windows.partial_periods(kpi.grain, first, last)
    ]
    if parts:
        st.caption(f"Partial periods, with fewer days than the others: {', '.join(parts)}.")


def _outlook(kpi: KPI, ahead: projection.Projection | None) -> None:
    """The forecast to the due date in words: projected value, 80% interval, chance."""
    if ahead is None:
        return
    low, value, high = (
        markdown_text(charts.format_value(v, kpi.unit, currency=kpi.currency))
        for v in (ahead.low, ahead.value, ahead.high)
    )
    if ahead.method == "known":
        verdict = "on target" if ahead.probability == 1 else "not on target"
        st.markdown(f"Due {ahead.due:%d %b %Y}, passed: {value}, {verdict}.")
        return
    st.markdown(
        f"Forecast for {ahead.due:%d %b %Y} ({ahead.method}, {ahead.periods} periods): "
        f"{value}, 80% interval {low} to {high}; **{ahead.probability:.0%}** chance of being "
        "on target."
    )
