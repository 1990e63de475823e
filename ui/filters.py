"""The time window, the date range (with relative presets) and category filters for the
dashboard, kept in the view (and so in the URL)."""

from __future__ import annotations

from datetime import date

import streamlit as st

from kpi_logic import windows
from kpi_logic.model import KPI
from kpi_logic.store import Dataset
from kpi_logic.text import markdown_text, plain_text
from ui import live_tables, session


@st.cache_data(max_entries=256, show_spinner=False)
def _date_span(_cur: object, table: str, revision: str, column: str) -> tuple[date, date] | None:
    return live_tables.date_span(_cur, table, column)


def date_span(dataset: Dataset, column: str) -> tuple[date, date] | None:
    """The first and last day of ``dataset``'s date column ``column`` (cached)."""
    return _date_span(session.cursor(), dataset.table, live_tables.revision(dataset), column)


@st.cache_data(max_entries=256, show_spinner=False)
def category_values(_cur: object, table: str, revision: str, column: str) -> list[str]:
    """Distinct values of a category column (at most ``tables.MAX_CATEGORY_VALUES``)."""
    return live_tables.category_values(_cur, table, column)


def _on_dates() -> None:
    picked = st.session_state["date_range"]
    span = st.session_state["date_span"]
    if len(picked) == 2:
        start, end = picked
        session.set_view(
            start=None if start == span[0] else start, end=None if end == span[1] else end
        )


_LATEST = "latest"  # the picker's word for no window: each KPI's latest period


def _on_window() -> None:
    picked = st.session_state["window_pick"]
    session.set_view(window=None if picked == _LATEST else picked)


def _on_preset(fiscal_year_start: int) -> None:
    """Set the date range to a relative preset, within the data's dates."""
    name, span = st.session_state["date_preset"], st.session_state["date_span"]
    start, end = windows.preset_range(name, span[1], fiscal_year_start=fiscal_year_start)
    start, end = max(start, span[0]), min(end, span[1])
    session.set_view(start=None if start == span[0] else start, end=None if end == span[1] else end)
    st.session_state["date_preset"] = None


def _window_picker(has_dates: bool) -> None:
    """Which window the cards judge: the latest period, or a window to date."""
    choices = [_LATEST, *(w for w in windows.WINDOWS if w != "period")]
    st.session_state["window_pick"] = session.view().window or _LATEST
    st.selectbox(
        "Time window",
        choices,
        format_func=lambda w: windows.WINDOW_LABELS["period" if w == _LATEST else w],
        key="window_pick",
        on_change=_on_window,
        disabled=not has_dates,
        help="What the cards compare with the target: the latest period (against the period "
        "before), or a window to the last date shown (against its target and the same days "
        "last year).",
    )


def _on_categories(column: str) -> None:
    values = st.session_state[f"filter_{column}"]
    current = dict(session.view().filters)
    if values:
        current[column] = tuple(values)
    else:
        current.pop(column, None)
    session.set_view(filters=current)


def render(dataset: Dataset, kpis: list[KPI]) -> None:
    """Draw the date range and category filters for the columns the KPIs use."""
    cur, table, revision = session.cursor(), dataset.table, live_tables.revision(dataset)
    view = session.view()
    time_columns = [k.time for k in kpis if k.time]
    by_columns = list(dict.fromkeys(k.by for k in kpis if k.by))
    window, left, *rights = st.columns([1.2, 2] + [1] * max(len(by_columns), 1))
    span = _date_span(cur, table, revision, time_columns[0]) if time_columns else None
    with window:
        _window_picker(span is not None)
    if span:
        st.session_state["date_span"] = span
        st.session_state["date_range"] = (
            max(view.start or span[0], span[0]),
            min(view.end or span[1], span[1]),
        )
        left.date_input(
            "Date range",
            min_value=span[0],
            max_value=span[1],
            key="date_range",
            on_change=_on_dates,
            format="YYYY-MM-DD",
        )
        st.session_state.setdefault("date_preset", None)
        left.selectbox(
            "Quick range",
            list(windows.DATE_PRESETS),
            format_func=windows.DATE_PRESETS.get,
            placeholder="Quick range: this month, last year…",
            key="date_preset",
            on_change=_on_preset,
            args=(kpis[0].fiscal_year_start if kpis else 1,),
            label_visibility="collapsed",
        )
    for column, box in zip(by_columns, rights, strict=False):
        options = category_values(cur, table, revision, column)
        st.session_state[f"filter_{column}"] = [
            v for v in view.filters.get(column, []) if v in options
        ]
        box.multiselect(
            markdown_text(column),
            options,
            format_func=plain_text,
            key=f"filter_{column}",
            placeholder="All",
            on_change=_on_categories,
            args=(column,),
        )


def drill_down(column: str, values: list[str]) -> None:
    """Show only ``values`` of ``column`` everywhere (a click on a chart's category)."""
    if session.view().filters.get(column) != tuple(values):
        session.set_view(filters={**session.view().filters, column: tuple(values)})
        st.rerun()


def clear() -> None:
    """Remove the date range and every category filter."""
    session.set_view(filters={}, start=None, end=None)
    st.rerun()
