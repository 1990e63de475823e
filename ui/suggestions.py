"""The "Start with these KPIs" panel: a dataset without KPIs gets the suggested ones as cards
(latest value, proposed target and its rule); the user ticks the ones to keep, renames or
retargets any, and saves them as the dataset's KPI set with one click."""

from __future__ import annotations

import dataclasses

import duckdb
import streamlit as st

from kpi_logic import charts, suggest
from kpi_logic.errors import KPIExplorerError
from kpi_logic.history_targets import label
from kpi_logic.model import KPI
from kpi_logic.store import Dataset
from kpi_logic.text import markdown_text
from ui import kpis, live_tables, session

CARDS_PER_ROW = 3


@st.cache_data(max_entries=16, show_spinner="Finding KPIs in this data…")
def _suggestions(
    _cur: duckdb.DuckDBPyConnection, table: str, revision: str
) -> list[suggest.Suggestion]:
    """The suggestions of a dataset table, kept until its content changes."""
    return suggest.suggest(_cur, table)


def offer(dataset: Dataset) -> None:
    """The suggestions as cards with one save button, while the dataset's KPI set is empty."""
    kpi_set = kpis.current_kpi_set(dataset)
    if kpis.saved_kpis(kpi_set) or live_tables.live_of(dataset):  # no rows here to learn from
        return
    try:
        found = _suggestions(session.cursor(), dataset.table, dataset.content_hash)
    except KPIExplorerError as err:
        st.warning(markdown_text(f"No KPI could be suggested: {err}"))
        return
    if not found:
        return
    with st.container(border=True, key="suggestions"):
        st.subheader("Start with these KPIs")
        st.caption(
            "Suggested from this file's columns, each with a target from its own history. "
            "Untick the ones you don't want, rename or retarget any, then save them at once."
        )
        chosen = []
        for start in range(0, len(found), CARDS_PER_ROW):
            columns = st.columns(CARDS_PER_ROW)
            for i, item in enumerate(found[start : start + CARDS_PER_ROW]):
                with columns[i], st.container(border=True):
                    kpi = _card(f"suggested_{dataset.id}_{start + i}", item)
                if kpi is not None:
                    chosen.append(kpi)
        _save_button(dataset, chosen)


def _card(key: str, item: suggest.Suggestion) -> KPI | None:
    """One suggestion: keep it?, its name, latest value, target (editable) and rule; the KPI
    as edited, or None when not kept."""
    kpi = item.kpi
    keep = st.checkbox("Keep", value=True, key=f"{key}_keep")
    name = st.text_input("Name", value=kpi.name, key=f"{key}_name", max_chars=200).strip()
    when = label(item.period, kpi.grain) if item.period else "all rows"
    st.metric(
        f"Latest ({when})", charts.format_value(item.current, kpi.unit, currency=kpi.currency)
    )
    proposed = kpi.target.total if kpi.by else kpi.target.default
    percent = kpi.unit == "percent"
    typed = st.number_input(
        "Target (%)" if percent else "Target",
        min_value=0.0,
        value=None if proposed is None else proposed * (100 if percent else 1),
        format="%.2f",
        key=f"{key}_target",
    )
    better = "lower" if kpi.direction == "lower" else "higher"
    st.caption(markdown_text(f"{better.capitalize()} is better. Target: {item.rule}."))
    st.code(kpi.measure, language=None, wrap_lines=True)
    if not keep:
        return None
    target = None if typed is None else typed / (100 if percent else 1)
    kpi = kpi.with_total_target(target) if kpi.by else kpi.with_target(target)
    return dataclasses.replace(kpi, name=name or kpi.name)


def _save_button(dataset: Dataset, chosen: list[KPI]) -> None:
    """Save the kept KPIs as the dataset's KPI set and open the dashboard."""
    names = [k.name for k in chosen]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        st.error(markdown_text(f"Two KPIs are named {', '.join(twice)}: rename one."))
    clicked = st.button(
        f"Save {len(chosen)} KPIs to the dashboard",
        type="primary",
        key="save_suggested",
        disabled=not chosen or bool(twice),
    )
    if not clicked:
        return
    kpi_set = kpis.current_kpi_set(dataset)
    summary = f"Started with {len(chosen)} suggested KPIs"
    if kpis.save_kpis(kpi_set, chosen, summary):
        session.set_view(kpi=chosen[0].name)
        st.switch_page(session.PAGES["dashboard"])
