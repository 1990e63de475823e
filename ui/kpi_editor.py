"""The sidebar's KPI editor: add (from a template or the form), edit, duplicate, delete, and
import or export the KPI file. The form's rules live in ``kpi_logic.kpi_form``."""

from __future__ import annotations

import dataclasses
import math
from datetime import date

import duckdb
import streamlit as st

from kpi_logic import compute, expressions, kpi_form, suggest, targets
from kpi_logic.errors import KPIExplorerError
from kpi_logic.kpi_file import MAX_FILE_CHARS, kpis_from_yaml, kpis_to_yaml
from kpi_logic.model import DIRECTIONS, GRAINS, KPI, KPI_TYPES, UNITS
from kpi_logic.store import Dataset, KPISet
from kpi_logic.text import markdown_text, plain_text
from ui import kpis, layout, session

AGGREGATIONS = tuple(expressions.MEASURE_FUNCTIONS)
NONE_OPTION = "(none)"


def section(dataset: Dataset, kpi_set: KPISet, saved: list[KPI], columns: dict[str, str]) -> None:
    """Draw the editor's parts for the KPI set of ``dataset``."""
    _add_kpi(dataset, kpi_set, saved, columns)
    if saved:
        _edit_kpi(kpi_set, saved, columns)
    _import_export(kpi_set, saved, columns)


@st.cache_data(max_entries=64, show_spinner=False)
def _templates(_cur: duckdb.DuckDBPyConnection, table: str, revision: str) -> list[KPI]:
    return suggest.suggest_kpis(_cur, table)


def _form(prefix: str, columns: dict[str, str], base: KPI | None) -> KPI | None:
    """The KPI fields; returns the KPI they describe, or None after showing what is wrong."""
    roles = kpi_form.column_roles(columns)
    start = kpi_form.form_values(base, columns) if base else kpi_form.FormValues(name="")
    name = st.text_input("Name", value=start.name, key=f"{prefix}_name", max_chars=200)
    mode = st.radio(
        "Measure",
        ["Column", "Expression"],
        horizontal=True,
        key=f"{prefix}_mode",
        index=1 if start.expression else 0,
    )
    column = expression = None
    aggregation = start.aggregation
    if mode == "Column":
        aggregation = st.selectbox(
            "Aggregation",
            AGGREGATIONS,
            key=f"{prefix}_agg",
            index=AGGREGATIONS.index(start.aggregation),
        )
        names = list(columns)
        pool = names if aggregation in ("count", "count_distinct") else (roles.numbers or names)
        column = st.selectbox(
            "Column",
            pool,
            format_func=plain_text,
            key=f"{prefix}_col",
            index=pool.index(start.column) if start.column in pool else 0,
        )
    else:
        expression = st.text_input(
            "Expression",
            value=start.expression or "",
            key=f"{prefix}_expr",
            placeholder='sum("Profit") / sum("Revenue")',
            help="Aggregates sum, avg, count, count_distinct, min, max, median over columns "
            "(double-quote names with spaces), with + - * / and numbers.",
        )
    filter_text = st.text_input(
        "Filter (optional)",
        value=start.filter,
        key=f"{prefix}_filter",
        placeholder="\"Channel\" <> 'Partner'",
        help="Comparisons, and/or/not, in (...), between, is null, with text, number or date "
        "values.",
    )
    time = _pick("Date column", roles.dates, start.time, f"{prefix}_time")
    grain = st.selectbox("Period", GRAINS, index=GRAINS.index(start.grain), key=f"{prefix}_grain")
    by = _pick("Category column", roles.others, start.by, f"{prefix}_by")
    kpi_type = st.selectbox(
        "Type", KPI_TYPES, index=KPI_TYPES.index(start.type), key=f"{prefix}_type"
    )
    direction = st.radio(
        "Better is",
        DIRECTIONS,
        index=DIRECTIONS.index(start.direction),
        horizontal=True,
        key=f"{prefix}_direction",
    )
    unit = st.selectbox("Format", UNITS, index=UNITS.index(start.unit), key=f"{prefix}_unit")
    owner = st.text_input("Owner", value=start.owner, key=f"{prefix}_owner", max_chars=200)
    description = st.text_area(
        "Description (optional)",
        value=start.description,
        key=f"{prefix}_description",
        max_chars=1_000,
        height=68,
        help="Shown on the card's help icon: what the KPI means and why it matters.",
    )
    target = st.number_input(
        "Target of all categories together per period" if by else "Target per period",
        value=start.target,
        key=f"{prefix}_target",
        placeholder="none yet",
    )
    due = st.date_input("Due date (optional)", value=start.due, key=f"{prefix}_due")
    values = kpi_form.FormValues(
        name=name,
        aggregation=aggregation,
        column=column,
        expression=expression,
        filter=filter_text,
        time=time,
        grain=grain,
        by=by,
        type=kpi_type,
        direction=direction,
        unit=unit,
        owner=owner,
        description=description,
        target=target,
        due=due if isinstance(due, date) else None,
    )
    if not name.strip():
        st.caption("Give the KPI a name.")
        return None
    try:
        return kpi_form.kpi_from_form(values, columns, base)
    except KPIExplorerError as err:
        st.error(markdown_text(err), icon=":material/error:")
        return None


def _pick(label: str, options: list[str], current: str | None, key: str) -> str | None:
    choices = [NONE_OPTION, *options]
    index = choices.index(current) if current in choices else 0
    picked = st.selectbox(label, choices, index=index, key=key, format_func=plain_text)
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
            by_label = {plain_text(f"{t.name} ({t.type})"): t for t in templates}
            label = st.selectbox(
                "Start from a template", [NONE_OPTION, *by_label], key="template_pick"
            )
            if label != NONE_OPTION:
                picked = by_label[label]
                st.caption(f"{markdown_text(picked.measure)} · {markdown_text(picked.description)}")
                if st.button("Add this template", key="add_template"):
                    template = by_label[label]
                    if kpis.save_kpis(kpi_set, [*saved, template], f"Added KPI {template.name}"):
                        session.set_view(kpi=template.name)
                        st.rerun()
            st.caption("Or define your own:")
        new = _form("new", columns, None)
        if st.button("Add KPI", type="primary", key="add_kpi", disabled=new is None):
            if new.name in taken:
                st.error(
                    f'A KPI named "{markdown_text(new.name)}" already exists; pick another name.'
                )
            elif kpis.save_kpis(kpi_set, [*saved, new], f"Added KPI {new.name}"):
                for key in [k for k in st.session_state if str(k).startswith("new_")]:
                    del st.session_state[key]
                session.set_view(kpi=new.name)
                st.rerun()


def _edit_kpi(kpi_set: KPISet, saved: list[KPI], columns: dict[str, str]) -> None:
    name = kpis.selected_name(saved)
    current = next(k for k in saved if k.name == name)
    box = layout.lazy_expander(
        f"Edit “{markdown_text(current.name)}”", "open_edit_kpi", icon=":material/edit:"
    )
    if box is None:
        return
    with box:
        edited = _form(f"edit_{kpi_set.version}_{saved.index(current)}", columns, current)
        save, copy, delete = st.columns(3)
        others = [k for k in saved if k.name != current.name]
        if save.button("Save", key="save_kpi", disabled=edited is None, type="primary"):
            if edited.name in {k.name for k in others}:
                st.error(f'A KPI named "{markdown_text(edited.name)}" already exists.')
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
                imported = [compute.check_kpi(k, columns) for k in kpis_from_yaml(text)]
            except UnicodeDecodeError:
                st.error("That KPI file is not UTF-8 text; nothing was changed.")
            except KPIExplorerError as err:
                st.error(f"Not imported, nothing was changed: {markdown_text(err)}")
            else:
                if kpis.save_kpis(kpi_set, imported, f"Imported KPI file {upload.name}"):
                    session.set_view(kpi=None, targets={})
                    st.rerun()
