"""Sidebar: pick the dataset, build KPIs (add, edit, duplicate, delete, templates, YAML import
and export) and tweak the selected KPI's targets and bands with sliders."""

from __future__ import annotations

import dataclasses
import math
from datetime import date

import duckdb
import pandas as pd
import streamlit as st

from kpi_logic import expressions, suggest, targets
from kpi_logic.errors import KPIExplorerError
from kpi_logic.ingest_types import logical_type
from kpi_logic.model import (
    DIRECTIONS,
    GRAINS,
    KPI,
    KPI_TYPES,
    MAX_FILE_CHARS,
    UNITS,
    kpis_from_yaml,
    kpis_to_yaml,
    period_start,
    validate,
)
from kpi_logic.sql import quote_ident
from kpi_logic.store import Dataset, KPISet
from ui import kpis, layout, session

AGGREGATIONS = tuple(expressions.MEASURE_FUNCTIONS)
NONE_OPTION = "(none)"
MAX_PERIOD_ROWS = 24


@st.cache_data(max_entries=64, show_spinner=False)
def _templates(_cur: duckdb.DuckDBPyConnection, table: str, revision: str) -> list[KPI]:
    return suggest.suggest_kpis(_cur, table)


def check_against_dataset(kpi: KPI, columns: list[str]) -> KPI:
    """Validate ``kpi`` and its expressions against the dataset's columns; column names come
    back as the dataset spells them."""
    validate(kpi)
    expressions.compile_measure(kpi.measure, columns)
    if kpi.filter:
        expressions.compile_filter(kpi.filter, columns)
    changes = {
        key: expressions.resolve_column(getattr(kpi, key), columns)
        for key in ("time", "by")
        if getattr(kpi, key)
    }
    return dataclasses.replace(kpi, **changes)


def selected_name(items: list[KPI]) -> str | None:
    """The name of the KPI the view has selected (the first KPI when it names none)."""
    names = [k.name for k in items]
    wanted = session.view().kpi
    return wanted if wanted in names else (names[0] if names else None)


def sidebar(
    dataset: Dataset,
    kpi_set: KPISet,
    saved: list[KPI],
    shown: list[KPI],
    results: pd.DataFrame | None,
) -> None:
    """Draw the dashboard's sidebar: dataset, KPI builder, targets of the selected KPI
    (``shown``: the KPIs as the dashboard shows them, ``kpis.live_kpis``)."""
    with st.sidebar:
        kpis.dataset_picker(dataset, "dataset_pick")
        columns = kpis.dataset_columns(session.cursor(), dataset.table, dataset.content_hash)
        st.subheader("KPIs")
        _add_kpi(dataset, kpi_set, saved, columns)
        if saved:
            _edit_kpi(kpi_set, saved, columns)
        _import_export(kpi_set, saved, columns)
        if saved and results is not None:
            _targets(kpi_set, saved, shown, results)


def _kpi_form(prefix: str, columns: dict[str, str], base: KPI | None) -> KPI | None:
    """The KPI fields; returns the KPI they describe, or None after showing what is wrong."""
    names = list(columns)
    kinds = {c: logical_type(t) for c, t in columns.items()}
    dates = [c for c in names if kinds[c] in ("date", "datetime")]
    numbers = [c for c in names if kinds[c] in ("number", "integer")]
    others = [c for c in names if c not in dates and c not in numbers]
    base = base or KPI(name="", measure="")
    simple = expressions.aggregate_of(base.measure, names) if base.measure else None
    name = st.text_input("Name", value=base.name, key=f"{prefix}_name", max_chars=200)
    mode = st.radio(
        "Measure",
        ["Column", "Expression"],
        horizontal=True,
        key=f"{prefix}_mode",
        index=0 if simple or not base.measure else 1,
    )
    if mode == "Column":
        func = st.selectbox(
            "Aggregation",
            AGGREGATIONS,
            key=f"{prefix}_agg",
            index=AGGREGATIONS.index(simple[0]) if simple else 0,
        )
        pool = names if func in ("count", "count_distinct") else (numbers or names)
        column = st.selectbox(
            "Column",
            pool,
            key=f"{prefix}_col",
            index=pool.index(simple[1]) if simple and simple[1] in pool else 0,
        )
        measure = f"{func}({quote_ident(column)})"
    else:
        measure = st.text_input(
            "Expression",
            value=base.measure,
            key=f"{prefix}_expr",
            placeholder='sum("Profit") / sum("Revenue")',
            help="Aggregates sum, avg, count, count_distinct, min, max, median over columns "
            "(double-quote names with spaces), with + - * / and numbers.",
        )
    filter_text = st.text_input(
        "Filter (optional)",
        value=base.filter or "",
        key=f"{prefix}_filter",
        placeholder="\"Channel\" <> 'Partner'",
        help="Comparisons, and/or/not, in (...), between, is null, with text, number or date "
        "values.",
    )
    time = _pick("Date column", dates, base.time, f"{prefix}_time")
    grain = st.selectbox("Period", GRAINS, index=GRAINS.index(base.grain), key=f"{prefix}_grain")
    by = _pick("Category column", others, base.by, f"{prefix}_by")
    kpi_type = st.selectbox(
        "Type", KPI_TYPES, index=KPI_TYPES.index(base.type), key=f"{prefix}_type"
    )
    direction = st.radio(
        "Better is",
        DIRECTIONS,
        index=DIRECTIONS.index(base.direction),
        horizontal=True,
        key=f"{prefix}_direction",
    )
    unit = st.selectbox("Format", UNITS, index=UNITS.index(base.unit), key=f"{prefix}_unit")
    owner = st.text_input("Owner", value=base.owner, key=f"{prefix}_owner", max_chars=200)
    description = st.text_area(
        "Description (optional)",
        value=base.description,
        key=f"{prefix}_description",
        max_chars=1_000,
        height=68,
        help="Shown on the card's help icon: what the KPI means and why it matters.",
    )
    headline = targets.headline_target(base)
    target = st.number_input(
        "Target of all categories together per period" if by else "Target per period",
        value=headline,
        key=f"{prefix}_target",
        placeholder="none yet",
    )
    due = st.date_input("Due date (optional)", value=base.due, key=f"{prefix}_due")
    candidate = dataclasses.replace(
        base,
        name=name.strip(),
        measure=measure.strip(),
        filter=filter_text.strip() or None,
        time=time,
        grain=grain,
        by=by,
        type=kpi_type,
        direction=direction,
        unit=unit,
        owner=owner.strip(),
        description=description.strip(),
        due=due if isinstance(due, date) else None,
    )
    candidate = candidate.with_total_target(target) if by else candidate.with_target(target)
    if not candidate.name:
        st.caption("Give the KPI a name.")
        return None
    try:
        return check_against_dataset(candidate, names)
    except KPIExplorerError as err:
        st.error(str(err), icon=":material/error:")
        return None


def _pick(label: str, options: list[str], current: str | None, key: str) -> str | None:
    choices = [NONE_OPTION, *options]
    index = choices.index(current) if current in choices else 0
    picked = st.selectbox(label, choices, index=index, key=key)
    return None if picked == NONE_OPTION else picked


def _add_kpi(dataset: Dataset, kpi_set: KPISet, saved: list[KPI], columns: dict[str, str]) -> None:
    taken = {k.name for k in saved}
    box = layout.lazy_expander(
        "Add a KPI", "open_add_kpi", icon=":material/add:", expanded=not saved
    )
    if box is None:
        return
    with box:
        templates = [
            t
            for t in _templates(session.cursor(), dataset.table, dataset.content_hash)
            if t.name not in taken
        ]
        if templates:
            by_label = {f"{t.name} ({t.type})": t for t in templates}
            label = st.selectbox(
                "Start from a template", [NONE_OPTION, *by_label], key="template_pick"
            )
            if label != NONE_OPTION:
                st.caption(f"`{by_label[label].measure}` · {by_label[label].description}")
                if st.button("Add this template", key="add_template"):
                    template = by_label[label]
                    if kpis.save_kpis(kpi_set, [*saved, template], f"Added KPI {template.name}"):
                        session.set_view(kpi=template.name)
                        st.rerun()
            st.caption("Or define your own:")
        new = _kpi_form("new", columns, None)
        if st.button("Add KPI", type="primary", key="add_kpi", disabled=new is None):
            if new.name in taken:
                st.error(f'A KPI named "{new.name}" already exists; pick another name.')
            elif kpis.save_kpis(kpi_set, [*saved, new], f"Added KPI {new.name}"):
                for key in [k for k in st.session_state if str(k).startswith("new_")]:
                    del st.session_state[key]
                session.set_view(kpi=new.name)
                st.rerun()


def _edit_kpi(kpi_set: KPISet, saved: list[KPI], columns: dict[str, str]) -> None:
    name = selected_name(saved)
    current = next(k for k in saved if k.name == name)
    box = layout.lazy_expander(f"Edit “{current.name}”", "open_edit_kpi", icon=":material/edit:")
    if box is None:
        return
    with box:
        edited = _kpi_form(f"edit_{kpi_set.version}_{saved.index(current)}", columns, current)
        save, copy, delete = st.columns(3)
        others = [k for k in saved if k.name != current.name]
        if save.button("Save", key="save_kpi", disabled=edited is None, type="primary"):
            if edited.name in {k.name for k in others}:
                st.error(f'A KPI named "{edited.name}" already exists.')
            elif kpis.save_kpis(
                kpi_set,
                [edited if k.name == current.name else k for k in saved],
                f"Edited KPI {current.name}",
            ):
                session.set_view(kpi=edited.name)
                st.rerun()
        if copy.button("Duplicate", key="copy_kpi"):
            copy_name = _free_name(f"{current.name} (copy)", {k.name for k in saved})
            duplicate = dataclasses.replace(current, name=copy_name)
            if kpis.save_kpis(
                kpi_set, [*saved, duplicate], f"Duplicated KPI {current.name} as {copy_name}"
            ):
                session.set_view(kpi=copy_name)
                st.rerun()
        with delete:
            layout.action_button("Delete", "delete_kpi", _delete_kpi, kpi_set.id, current.name)


def _delete_kpi(kpi_set_id: str, name: str) -> str | None:
    """Delete KPI ``name`` (the one the button was drawn for) from the latest version of the
    set; the reason when it can't be, e.g. another session deleted it first."""
    store, cur = session.store(), session.cursor()
    try:
        latest = store.get_kpi_set(cur, kpi_set_id)
        saved = kpis_from_yaml(latest.yaml_text)
        if name not in {k.name for k in saved}:
            return f"The KPI “{name}” was already deleted."
        store.update_kpi_set(
            cur,
            kpi_set_id,
            kpis_to_yaml([k for k in saved if k.name != name]),
            kpis.author(),
            f"Deleted KPI {name}",
            expected_version=latest.version,
        )
    except KPIExplorerError as err:
        return f"Not deleted: {err}"
    session.set_view(kpi=None, targets=targets.without_targets_of(name, session.view().targets))
    return None


def _free_name(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name} {number}", number + 1
    return candidate


def _import_export(kpi_set: KPISet, saved: list[KPI], columns: dict[str, str]) -> None:
    box = layout.lazy_expander(
        "Import or export the KPI file", "open_kpi_file", icon=":material/description:"
    )
    if box is None:
        return
    with box:
        st.download_button(
            "Download KPI file (YAML)",
            lambda: kpis_to_yaml(saved),  # made on click: see README, "Hosting for a team"
            file_name="kpis.yaml",
            mime="application/x-yaml",
            key="export_yaml",
        )
        upload = st.file_uploader(
            "Import a KPI file",
            type=["yaml", "yml"],
            key="import_yaml",
            max_upload_size=math.ceil(MAX_FILE_CHARS * 4 / 2**20),  # MB; UTF-8: <= 4 bytes/char
        )
        if upload is not None and st.button("Replace the KPIs with this file", key="do_import"):
            try:
                text = upload.getvalue().decode("utf-8")
                imported = [check_against_dataset(k, list(columns)) for k in kpis_from_yaml(text)]
            except UnicodeDecodeError:
                st.error("That KPI file is not UTF-8 text; nothing was changed.")
            except KPIExplorerError as err:
                st.error(f"Not imported, nothing was changed: {err}")
            else:
                if kpis.save_kpis(kpi_set, imported, f"Imported KPI file {upload.name}"):
                    session.set_view(kpi=None, targets={})
                    st.rerun()


def _step(top: float, unit: str) -> float:
    """A slider step giving about 200-2,000 positions from 0 to ``top``."""
    if top <= 0:
        return 1.0 if unit != "percent" else 0.001
    return float(10 ** math.floor(math.log10(top / 200)))


def _slider(
    label: str, key: str, value: float | None, top: float, unit: str, saved: float | None
) -> None:
    """A target slider with an exact number input beside it, both writing the view."""
    step = _step(top, unit)
    top = max(top, value or 0.0, step)
    slider_key, number_key = f"slider::{key}", f"number::{key}"

    def moved(source: str) -> None:
        picked = st.session_state[source]
        overrides = dict(session.view().targets)
        if picked is None or (saved is not None and math.isclose(picked, saved)):
            overrides.pop(key, None)
        else:
            overrides[key] = float(picked)
        session.set_view(targets=overrides)

    st.session_state[slider_key] = float(min(value or 0.0, top))
    st.session_state[number_key] = None if value is None else float(value)
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    left.slider(
        label,
        0.0,
        float(top),
        step=step,
        key=slider_key,
        on_change=moved,
        args=(slider_key,),
        format=_slider_format(unit, top),
    )
    right.number_input(
        "Exact",
        key=number_key,
        on_change=moved,
        args=(number_key,),
        step=step,
        format="%.4f" if unit == "percent" else "%.2f",
        placeholder="none",
    )


def _slider_format(unit: str, top: float) -> str:
    if unit == "percent":
        return "%.3f"
    return "%.2f" if top < 100 else "%.0f"


def _top(actuals: pd.Series) -> float:
    """Slider end: twice the best value seen, so the target can go well beyond it."""
    best = actuals.abs().max()
    return 2 * float(best) if pd.notna(best) and best > 0 else 100.0


def _targets(kpi_set: KPISet, saved: list[KPI], shown: list[KPI], results: pd.DataFrame) -> None:
    name = selected_name(saved)
    current = next(k for k in saved if k.name == name)
    live = next(k for k in shown if k.name == name)
    rows = results[results["kpi"] == current.name]
    st.subheader(f"Targets · {current.name}")
    st.caption(
        "Move a target to see the dashboard re-score; the link carries it. "
        "Save to keep it for everyone."
    )
    totals = rows[rows["category"].isna()]
    if current.by and session.view().filters.get(current.by):
        st.caption(
            f"Only some {current.by} are shown: their card is judged against their own "
            f"targets, set one by one under “Per {current.by}”."
        )
    else:
        label = "All categories together" if current.by else f"Target per {current.grain}"
        _slider(
            label,
            targets.target_key(current.name),
            targets.headline_target(live),
            _top(totals["actual"]),
            current.unit,
            targets.headline_target(current),
        )
    if current.by:
        cells = rows[rows["category"].notna()]
        top = _top(cells["actual"])
        _slider(
            f"Each {current.by} (default)",
            targets.target_key(current.name, targets.ALL_CATEGORIES),
            live.target.default,
            top,
            current.unit,
            current.target.default,
        )
        box = layout.lazy_expander(f"Per {current.by}", "open_category_targets")
        if box is not None:
            with box:
                categories = sorted(str(c) for c in cells["category"].dropna().unique())
                for category in categories:
                    _slider(
                        category,
                        targets.target_key(current.name, category),
                        live.target.by_category.get(category, live.target.default),
                        top,
                        current.unit,
                        current.target.by_category.get(category),
                    )
                _target_grid(current, live, categories)
    if current.time:
        box = layout.lazy_expander(f"Per {current.grain}", "open_period_targets")
        if box is not None:
            with box:
                _period_grid(current, live, rows)
    st.slider(
        "Bands: at risk from / on target from (attainment)",
        0.0,
        1.5,
        (current.bands.warning, current.bands.good),
        step=0.01,
        key=kpis.bands_key(current.name),
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


def _target_grid(current: KPI, live: KPI, categories: list[str]) -> None:
    """Per-category targets (and per-period ones when there is a date) in an editable grid."""
    grid = pd.DataFrame({current.by: categories})
    grid["target"] = [live.target.by_category.get(c, live.target.default) for c in categories]
    edited = st.data_editor(
        grid,
        key=f"grid::{current.name}",
        hide_index=True,
        disabled=[current.by],
        width="stretch",
        column_config={"target": st.column_config.NumberColumn("Target")},
    )
    if st.button("Use these targets", key="apply_grid"):
        keys = [targets.target_key(current.name, c) for c in edited[current.by]]
        _use_grid(keys, grid["target"], edited["target"])


def _period_grid(current: KPI, live: KPI, rows: pd.DataFrame) -> None:
    """Targets of single periods (the latest ones and up to the due date) in a grid."""
    periods = sorted({p for p in rows["period"].dropna()})[-MAX_PERIOD_ROWS:]
    if current.due:
        periods = sorted({*periods, period_start(current.due, current.grain)})
    scope = f" for each {current.by} without a target of its own" if current.by else ""
    st.caption(f"Targets of single periods{scope}; an empty cell uses the default.")
    grid = pd.DataFrame(
        {
            "period": [pd.Timestamp(p) for p in periods],
            "target": [live.target.by_period.get(p) for p in periods],
        }
    )
    edited = st.data_editor(
        grid,
        key=f"periods::{current.name}",
        hide_index=True,
        disabled=["period"],
        width="stretch",
        column_config={
            "period": st.column_config.DateColumn("Period", format="YYYY-MM-DD"),
            "target": st.column_config.NumberColumn("Target"),
        },
    )
    if st.button("Use these period targets", key="apply_periods"):
        keys = [targets.period_key(current.name, p) for p in periods]
        _use_grid(keys, grid["target"], edited["target"])


def _use_grid(keys: list[str], before: pd.Series, after: pd.Series) -> None:
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
