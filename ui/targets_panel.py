"""The sidebar's targets panel for the selected KPI: one control per target (a slider
tied to the target's magnitude, labelled in the KPI's unit, with an exact field) for the
headline, every category and each category, a per-period grid, bands, and save or reset.
Moved targets are what-if targets in the view (and the link) until saved."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from kpi_logic import formats, score, targets
from kpi_logic.compute import Record
from kpi_logic.model import KPI, period_start
from kpi_logic.store import Dataset, KPISet
from kpi_logic.text import markdown_text
from ui import kpis, layout, session

MAX_PERIOD_ROWS = 24


def _slider(
    label: str,
    key: targets.OverrideKey,
    value: float | None,
    anchor: float | None,
    kpi: KPI,
    saved: float | None,
) -> None:
    """A target's one control: a slider tied to the target's magnitude (``anchor``: the
    saved target, else the actual; ``formats.slider_scale``), labelled in the KPI's unit,
    with an exact number field beside it (a percent's in percent), both writing the view."""
    scale = formats.slider_scale(anchor, value, kpi.unit)
    shown = 100.0 if kpi.unit == "percent" else 1.0  # the exact field's unit
    slider_key, number_key = f"slider::{key.text}", f"number::{key.text}"

    def moved(source: str, factor: float) -> None:
        picked = st.session_state[source]
        picked = None if picked is None else float(picked) / factor
        overrides = dict(session.view().targets)
        if picked is None or (saved is not None and math.isclose(picked, saved)):
            overrides.pop(key, None)
        else:
            overrides[key] = picked
        session.set_view(targets=overrides)
        session.rerun_view()

    st.session_state[slider_key] = float(min(max(value or 0.0, scale.low), scale.high))
    st.session_state[number_key] = None if value is None else float(value) * shown
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    left.slider(
        label,
        scale.low,
        scale.high,
        step=scale.step,
        key=slider_key,
        on_change=moved,
        args=(slider_key, 1.0),
        format=formats.printf_format(kpi.unit, scale.step, currency=kpi.currency),
    )
    right.number_input(
        "Exact (%)" if kpi.unit == "percent" else "Exact",
        key=number_key,
        on_change=moved,
        args=(number_key, shown),
        min_value=0.0,
        step=scale.step * shown,
        format="%.2f",
        placeholder="none",
    )


def _typical(rows: list[Record]) -> float | None:
    """The largest actual in ``rows``: where a slider without a saved target is centred."""
    best = max((abs(r["actual"]) for r in rows if not score.is_missing(r["actual"])), default=0.0)
    return float(best) if best > 0 else None


def _anchor(saved: float | None, rows: list[Record]) -> float | None:
    """Where a target's slider is centred: the saved target, else the typical actual."""
    return saved if saved else _typical(rows)


@st.fragment(key=session.TARGETS_FRAGMENT)
def section(dataset: Dataset, kpi_set: KPISet) -> None:
    """Draw the targets of the selected KPI. A fragment: a moved target redraws it with the
    cards and charts only (``session.rerun_view``), so it reads the view's targets itself."""
    saved, shown = kpis.live_kpis(dataset, kpi_set)
    results, _ = kpis.scored(dataset, shown)
    name = kpis.selected_name(saved)
    current = next(k for k in saved if k.name == name)
    live = next(k for k in shown if k.name == name)
    rows = kpis.rows_of(results, current.name)
    st.subheader(f"Targets · {markdown_text(current.name)}")
    by = markdown_text(current.by or "")
    st.caption(
        "Move a target to see the dashboard re-score; the link carries it. "
        "Save to keep it for everyone."
    )
    _unsaved(saved)
    totals = [r for r in rows if r["category"] is None]
    if current.by and session.view().filters.get(current.by):
        st.caption(
            f"Only some {by} are shown: their card is judged against their own "
            f"targets, set one by one under “Per {by}”."
        )
    else:
        label = "All categories together" if current.by else f"Target per {current.grain}"
        headline = targets.headline_target(current)
        _slider(
            label,
            targets.OverrideKey(current.name),
            targets.headline_target(live),
            _anchor(headline, totals),
            current,
            headline,
        )
    if current.by:
        cells = [r for r in rows if r["category"] is not None]
        _slider(
            f"Each {by} (default)",
            targets.OverrideKey(current.name, category=targets.ALL_CATEGORIES),
            live.target.default,
            _anchor(current.target.default, cells),
            current,
            current.target.default,
        )
        box = layout.lazy_expander(f"Per {by}", "open_category_targets")
        if box is not None:
            with box:
                for category in sorted({str(r["category"]) for r in cells}):
                    own = current.target.by_category.get(category)
                    mine = [r for r in cells if r["category"] == category]
                    _slider(
                        markdown_text(category),
                        targets.OverrideKey(current.name, category=category),
                        live.target.by_category.get(category, live.target.default),
                        _anchor(own if own is not None else current.target.default, mine),
                        current,
                        own,
                    )
    if current.time:
        box = layout.lazy_expander(f"Per {current.grain}", "open_period_targets")
        if box is not None:
            with box:
                _period_grid(current, live, rows)
    additive = bool(rows) and bool(rows[0]["additive"])
    if additive and (current.by or current.time):
        box = layout.lazy_expander("Allocate a target", "open_allocate")
        if box is not None:
            with box:
                _allocate(live, rows)
    st.slider(
        "Bands: at risk from / on target from (share of target)",
        0.0,
        max(1.5, current.bands.good),
        (current.bands.warning, current.bands.good),
        step=0.01,
        key=kpis.bands_key(current.name),
        format="percent",
        on_change=session.rerun_view,
    )
    trial = st.session_state[kpis.bands_key(current.name)]
    changed = bool(session.view().targets) or trial != (current.bands.warning, current.bands.good)
    save, reset = st.columns(2)
    if save.button("Save targets", key="save_targets", disabled=not changed, type="primary"):
        updated = kpis.with_trial_bands(targets.with_overrides(saved, session.view().targets))
        if kpis.save_kpis(kpi_set, updated, targets.describe_changes(saved, updated)):
            session.set_view(targets={})
            st.rerun()
    if reset.button("Reset to saved", key="reset_targets", disabled=not changed):
        session.set_view(targets={})
        st.session_state.pop(kpis.bands_key(current.name), None)
        st.rerun()


_HOW = {False: "Evenly", True: "By last year's shares"}


def _allocate(live: KPI, rows: list[Record]) -> None:
    """Split the total over the categories, or a yearly target over the fiscal year's
    periods, as what-if targets (saved with "Save targets" like any other)."""
    by = markdown_text(live.by or "")
    if live.by:
        total = targets.headline_target(live)
        how = st.radio(f"Split the total over {by}", [False, True], format_func=_HOW.get,
                       key="split_how", horizontal=True)  # fmt: skip
        if total is None:
            st.caption("Set a total target first (the slider above).")
        elif st.button(f"Split the total over {by}", key="split_total"):
            _try(targets.split_total(live, total, rows, by_last_year=how))
    if live.time:
        yearly = st.number_input(
            f"Yearly target, spread over the fiscal year's {live.grain}s",
            min_value=0.0,
            value=None,
            key="yearly_target",
            placeholder="e.g. 48,000,000",
        )
        how = st.radio("Spread", [False, True], format_func=_HOW.get, key="spread_how",
                       horizontal=True)  # fmt: skip
        if st.button("Spread the yearly target", key="spread_year", disabled=yearly is None):
            _try(targets.spread_year(live, float(yearly or 0.0), rows, by_last_year=how))


def _try(overrides: dict[targets.OverrideKey, float]) -> None:
    """Add allocated targets to the view's what-if targets."""
    session.set_view(targets={**session.view().targets, **overrides})
    st.rerun()


def _unsaved(saved: list[KPI]) -> None:
    """Which targets are tried but not saved (every KPI's, what they were and are now)."""
    overrides = session.view().targets
    if overrides:
        tried = targets.with_overrides(saved, overrides)
        changes = targets.describe_changes(saved, tried)
        st.warning(f"Unsaved targets: {markdown_text(changes)}", icon=":material/edit_note:")


def _period_grid(current: KPI, live: KPI, rows: list[Record]) -> None:
    """Targets of single periods (the latest ones and up to the due date) in a grid."""
    periods = sorted({r["period"] for r in rows if r["period"] is not None})[-MAX_PERIOD_ROWS:]
    if current.due:
        periods = sorted({*periods, period_start(current.due, current.grain)})
    whose: str | None = None  # None: the total's (or the only row's) per-period targets
    if current.by:
        categories = sorted({str(r["category"]) for r in rows if r["category"] is not None})
        total = f"All {current.by} together (the total)"
        picked = st.selectbox("Targets of", [total, *categories], key="period_targets_of")
        whose = None if picked == total else picked
        st.caption(
            "Targets of single periods of the total; an empty cell uses the total target."
            if whose is None
            else f"Targets of single periods of {markdown_text(whose)} only; an empty cell "
            "uses its own or the default."
        )
    else:
        st.caption("Targets of single periods; an empty cell uses the default.")
    saved = (
        live.target.by_period
        if whose is None
        else {p: v for (c, p), v in live.target.by_category_period.items() if c == whose}
    )
    grid = pd.DataFrame(
        {
            "period": [pd.Timestamp(p) for p in periods],
            "target": pd.Series([saved.get(p) for p in periods], dtype="float64"),  # empty: NaN
        }
    )
    edited = st.data_editor(
        grid,
        key=f"periods::{current.name}::{whose}",
        hide_index=True,
        disabled=["period"],
        width="stretch",
        column_config={
            "period": st.column_config.DateColumn("Period", format="YYYY-MM-DD"),
            "target": st.column_config.NumberColumn(
                "Target", format=_grid_format(current), min_value=0.0
            ),
        },
    )
    if st.button("Use these period targets", key="apply_periods"):
        keys = [targets.OverrideKey(current.name, category=whose, period=p) for p in periods]
        _use_grid(keys, grid["target"], edited["target"])


def _grid_format(kpi: KPI) -> str:
    """A target grid's number format: the unit, thousands separated (``€%,.0f``, ``15%``)."""
    values = [v for v in kpi.target.by_period.values() if v]
    step = formats.nice_step(max(values, default=100.0))
    return formats.printf_format(kpi.unit, step, currency=kpi.currency)


def _use_grid(keys: list[targets.OverrideKey], before: pd.Series, after: pd.Series) -> None:
    """Put the cells the user changed in a target grid into the view (an emptied cell
    removes that target); unchanged cells stay out of the link."""
    overrides = dict(session.view().targets)
    for key, old, new in zip(keys, before, after, strict=True):
        if (pd.isna(old) and pd.isna(new)) or old == new:
            continue
        if pd.notna(new):
            overrides[key] = float(new)
        else:
            overrides.pop(key, None)
    session.set_view(targets=overrides)
    st.rerun()
