"""The KPI editor: one dialog, opened from buttons in the main area (reachable on a phone,
where the sidebar covers the page), for adding (from a template or the fields) and for
editing, duplicating or deleting a KPI; the fields in three groups, a live preview of the
KPI's latest value and each problem right under its field. The sidebar keeps the import and
export of the KPI file. The rules (checks per field, defaults from the data, the preview's
value) live in ``kpi_logic.kpi_form`` and ``kpi_logic.column_roles``.

The dialog is open while ``st.session_state[OPEN_ADD]`` or ``[OPEN_EDIT]`` is True, so it
stays open over full reruns and tests open it as a click would."""

from __future__ import annotations

import dataclasses
import math
from datetime import date
from typing import Any

import duckdb
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from kpi_logic import charts, column_roles, compute, kpi_form, suggest, targets
from kpi_logic.compute import Record
from kpi_logic.errors import KPIExplorerError
from kpi_logic.expressions import MEASURE_FUNCTIONS
from kpi_logic.kpi_file import MAX_FILE_CHARS, kpis_from_yaml, kpis_to_yaml
from kpi_logic.model import DIRECTIONS, GRAINS, KPI, KPI_TYPES, UNITS, definition_key
from kpi_logic.store import Dataset, KPISet
from kpi_logic.text import markdown_text, plain_text
from ui import kpis, layout, live_tables, session

AGGREGATIONS = tuple(MEASURE_FUNCTIONS)
NONE_OPTION = "(none)"
MODES = ("Column", "Expression")
OPEN_ADD, OPEN_EDIT = "open_add_kpi", "open_edit_kpi"  # session keys: the dialog is open
NOT_YET = "Not {} yet: fix the fields marked above."
_FILLED = "{}_filled_from"  # session key: what the fields of a prefix were filled from


def draw(dataset: Dataset, kpi_set: KPISet, saved: list[KPI]) -> None:
    """The buttons that open the editor, and the editor while it is open."""
    with st.container(horizontal=True, key="kpi_editor_buttons"):
        st.button("Add a KPI", key="open_add", icon=":material/add:", on_click=_open, args=(True,))
        if saved:
            name = markdown_text(kpis.selected_name(saved) or "")
            st.button(f"Edit “{name}”", key="open_edit", icon=":material/edit:", on_click=_open)
    columns = kpis.dataset_columns(session.cursor(), dataset.table, dataset.content_hash)
    if st.session_state.get(OPEN_EDIT) and saved:
        st.dialog("Edit a KPI", width="large", on_dismiss=_close)(_edit)(
            dataset, kpi_set, saved, columns
        )
    elif st.session_state.get(OPEN_ADD):
        st.dialog("Add a KPI", width="large", on_dismiss=_close)(_add)(
            dataset, kpi_set, saved, columns
        )


def _open(add: bool = False) -> None:
    st.session_state[OPEN_ADD], st.session_state[OPEN_EDIT] = add, not add


def _close() -> None:
    st.session_state[OPEN_ADD] = st.session_state[OPEN_EDIT] = False


def _closed_by_a_callback() -> None:
    """A button's callback closed the dialog: a full rerun shows the page (and its message)."""
    if not (st.session_state.get(OPEN_ADD) or st.session_state.get(OPEN_EDIT)):
        st.rerun()


@st.cache_data(max_entries=64, show_spinner=False)
def _templates(_cur: duckdb.DuckDBPyConnection, table: str, revision: str) -> list[KPI]:
    return suggest.suggest_kpis(_cur, table)


@st.cache_data(max_entries=64, show_spinner=False)
def _defaults(
    _cur: duckdb.DuckDBPyConnection, table: str, revision: str, _columns: dict[str, str]
) -> column_roles.BuilderDefaults:
    return column_roles.builder_defaults(_cur, table, _columns)


@st.cache_data(max_entries=128, show_spinner=False)
def _latest(
    _cur: duckdb.DuckDBPyConnection, table: str, revision: str, definition: str, _kpi: KPI
) -> tuple[Record | None, str | None]:
    """The KPI's latest all-categories record over all rows, or why it can't be computed."""
    try:
        records = live_tables.aggregate_records(_cur, table, [_kpi])
    except KPIExplorerError as err:
        return None, str(err)
    return kpi_form.latest_total(records), None


def _add(dataset: Dataset, kpi_set: KPISet, saved: list[KPI], columns: dict[str, str]) -> None:
    """The dialog's body for a new KPI: templates, then the fields (empty again after Add)."""
    _closed_by_a_callback()
    taken = {k.name for k in saved}
    _templates_picker(dataset, kpi_set, saved, taken)
    defaults = _defaults(session.cursor(), dataset.table, dataset.content_hash, columns)
    _fill("new", kpi_form.new_form(defaults, columns), (dataset.table, dataset.content_hash))
    base = kpi_form.blank_kpi(saved)  # the set's currency and fiscal year
    check = _fields("new", dataset, columns, base, taken, defaults.filter_example)
    # never disabled: a click that also ends typing in a field must reach the app
    clicked, new = st.button("Add KPI", type="primary", key="add_kpi"), check.kpi
    if clicked and new is None:
        st.error(NOT_YET.format("added"), icon=":material/error:")
    elif clicked and new and kpis.save_kpis(kpi_set, [*saved, new], f"Added KPI {new.name}"):
        _forget("new")
        _close()
        session.set_view(kpi=new.name)
        st.rerun()


def _templates_picker(dataset: Dataset, kpi_set: KPISet, saved: list[KPI], taken: set[str]) -> None:
    templates = [
        t
        for t in _templates(session.cursor(), dataset.table, dataset.content_hash)
        if t.name not in taken
    ]
    if not templates:
        return
    by_label = {plain_text(f"{t.name} ({t.type})"): t for t in templates}
    label = st.selectbox("Start from a template", [NONE_OPTION, *by_label], key="template_pick")
    if label != NONE_OPTION:
        picked = by_label[label]
        st.caption(f"{markdown_text(picked.measure)} · {markdown_text(picked.description)}")
        added = st.button("Add this template", key="add_template")
        if added and kpis.save_kpis(kpi_set, [*saved, picked], f"Added KPI {picked.name}"):
            _close()
            session.set_view(kpi=picked.name)
            st.rerun()
    st.caption("Or define your own:")


def _edit(dataset: Dataset, kpi_set: KPISet, saved: list[KPI], columns: dict[str, str]) -> None:
    """The dialog's body for the selected KPI: its fields filled in, Save, Duplicate, Delete."""
    _closed_by_a_callback()
    name = kpis.selected_name(saved)
    current = next(k for k in saved if k.name == name)
    _fill("edit", kpi_form.form_values(current, columns), (kpi_set.id, kpi_set.version, name))
    others = {k.name for k in saved if k.name != current.name}
    defaults = _defaults(session.cursor(), dataset.table, dataset.content_hash, columns)
    check = _fields("edit", dataset, columns, current, others, defaults.filter_example)
    with st.container(horizontal=True):
        save = st.button("Save", key="save_kpi", type="primary")
        copy = st.button("Duplicate", key="copy_kpi")
        layout.action_button("Delete", "delete_kpi", _delete_and_close, kpi_set.id, current.name)
    edited = check.kpi
    if save and edited is None:
        st.error(NOT_YET.format("saved"), icon=":material/error:")
    elif (
        save
        and edited
        and kpis.save_kpis(
            kpi_set,
            [edited if k.name == current.name else k for k in saved],
            f"Edited KPI {current.name}",
        )
    ):
        _close()
        session.set_view(kpi=edited.name)
        st.rerun()
    if copy:
        copy_name = _free_name(f"{current.name} (copy)", {k.name for k in saved})
        duplicate = dataclasses.replace(current, name=copy_name)
        if kpis.save_kpis(
            kpi_set, [*saved, duplicate], f"Duplicated KPI {current.name} as {copy_name}"
        ):
            _close()
            session.set_view(kpi=copy_name)
            st.rerun()


def _fill(prefix: str, values: kpi_form.FormValues, source: tuple) -> None:
    """Put ``values`` in the fields of ``prefix`` unless they already hold what ``source``
    (the dataset, or the KPI and its version) gave them: Streamlit forgets the fields of a
    closed dialog, so an editor opened again starts from ``values``."""
    state = st.session_state
    if state.get(_FILLED.format(prefix)) == source and f"{prefix}_name" in state:
        return
    simple = values.expression is None
    state[f"{prefix}_name"] = values.name
    state[f"{prefix}_mode"] = MODES[0] if simple else MODES[1]
    state[f"{prefix}_agg"] = values.aggregation
    state[f"{prefix}_col"] = values.column
    state[f"{prefix}_expr"] = values.expression or ""
    state[f"{prefix}_filter"] = values.filter
    state[f"{prefix}_time"] = values.time or NONE_OPTION
    state[f"{prefix}_by"] = values.by or NONE_OPTION
    for field in ("grain", "type", "direction", "unit", "owner", "description", "target", "due"):
        state[f"{prefix}_{field}"] = getattr(values, field)
    state[_FILLED.format(prefix)] = source


def _forget(prefix: str) -> None:
    for key in [k for k in st.session_state if str(k).startswith(f"{prefix}_")]:
        del st.session_state[key]


def _select(label: str, options: list[str] | tuple[str, ...], key: str, **kwargs: Any) -> Any:
    """A select box whose value is one of ``options`` (a value the options lost, e.g. a text
    column after the aggregation became a sum, becomes the first option)."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[0]
    return st.selectbox(label, options, key=key, **kwargs)


def _fields(
    prefix: str,
    dataset: Dataset,
    columns: dict[str, str],
    base: KPI,
    taken: set[str],
    example: str,
) -> kpi_form.FormCheck:
    """The fields in three groups under a live preview; each problem is shown right under
    its field. Returns the check of what they hold."""
    preview = st.container(key=f"{prefix}_preview")
    slots: dict[str, DeltaGenerator] = {}
    values = _what_to_measure(prefix, columns, example, slots)
    values = _over_time(prefix, columns, values, slots)
    values = _target_and_owner(prefix, values, slots)
    check = kpi_form.check_form(values, columns, base, taken)
    for field, message in check.errors.items():
        slot = slots.get(field, slots["form"])
        if field == "name" and not values.name.strip():
            slot.caption(markdown_text(message))
        else:
            slot.error(markdown_text(message), icon=":material/error:")
    with preview:
        _preview(dataset, check.draft, values.unit)
    return check


def _what_to_measure(
    prefix: str, columns: dict[str, str], example: str, slots: dict[str, DeltaGenerator]
) -> kpi_form.FormValues:
    roles = kpi_form.column_roles(columns)
    with st.container(border=True, key=f"{prefix}_group_measure"):
        st.markdown("**What to measure**")
        left, right = st.columns(2)
        with left:
            name = st.text_input("Name", key=f"{prefix}_name", max_chars=200)
            slots["name"] = st.empty()  # its problem, right under it
        with right:
            kpi_type = _select("Type", KPI_TYPES, f"{prefix}_type")
        mode = st.radio("Measure", MODES, horizontal=True, key=f"{prefix}_mode")
        column = expression = None
        aggregation = str(st.session_state.get(f"{prefix}_agg") or "sum")
        if mode == MODES[0]:
            left, right = st.columns(2)
            with left:
                aggregation = _select("Aggregation", AGGREGATIONS, f"{prefix}_agg")
            names = list(columns)
            pool = names if aggregation in ("count", "count_distinct") else roles.numbers or names
            with right:
                column = _select("Column", pool, f"{prefix}_col", format_func=plain_text)
        else:
            expression = st.text_input(
                "Expression",
                key=f"{prefix}_expr",
                placeholder='sum("Profit") / sum("Revenue")',
                help="Aggregates sum, avg, count, count_distinct, min, max, median over "
                "columns (double-quote names with spaces), with + - * / and numbers.",
            )
        slots["measure"] = st.empty()  # its problem, right under it
        filter_text = st.text_input(
            "Filter (optional)",
            key=f"{prefix}_filter",
            placeholder=example or None,
            help="Comparisons, and/or/not, in (...), between, is null, with text, number or "
            "date values.",
        )
        slots["filter"] = st.empty()  # its problem, right under it
        unit = _select("Format", UNITS, f"{prefix}_unit")
    return kpi_form.FormValues(
        name=name,
        aggregation=aggregation,
        column=column,
        expression=expression,
        filter=filter_text,
        type=kpi_type,
        unit=unit,
    )


def _over_time(
    prefix: str,
    columns: dict[str, str],
    values: kpi_form.FormValues,
    slots: dict[str, DeltaGenerator],
) -> kpi_form.FormValues:
    roles = kpi_form.column_roles(columns)
    with st.container(border=True, key=f"{prefix}_group_time"):
        st.markdown("**Over time and by category**")
        when, grain_box, category = st.columns(3)
        with when:
            time = _pick("Date column", roles.dates, f"{prefix}_time")
            slots["time"] = st.empty()  # its problem, right under it
        with grain_box:
            grain = _select("Period", GRAINS, f"{prefix}_grain")
        with category:
            by = _pick("Category column", roles.others, f"{prefix}_by")
            slots["by"] = st.empty()  # its problem, right under it
    return dataclasses.replace(values, time=time, grain=grain, by=by)


def _target_and_owner(
    prefix: str, values: kpi_form.FormValues, slots: dict[str, DeltaGenerator]
) -> kpi_form.FormValues:
    with st.container(border=True, key=f"{prefix}_group_target"):
        st.markdown("**Target and ownership**")
        left, right = st.columns(2)
        with left:
            target = st.number_input(
                "Target per period",
                value=None,
                key=f"{prefix}_target",
                placeholder="none yet",
                help="Of all categories together" if values.by else None,
            )
            slots["target"] = st.empty()  # its problem, right under it
            owner = st.text_input("Owner", key=f"{prefix}_owner", max_chars=200)
        with right:
            direction = _select("Better is", DIRECTIONS, f"{prefix}_direction")
            due = st.date_input("Due date (optional)", value=None, key=f"{prefix}_due")
        description = st.text_area(
            "Description (optional)",
            key=f"{prefix}_description",
            max_chars=1_000,
            height=68,
            help="Shown on the card's help icon: what the KPI means and why it matters.",
        )
    slots["form"] = st.empty()  # a problem of the whole KPI
    return dataclasses.replace(
        values,
        target=None if target is None else float(target),
        direction=direction,
        owner=owner,
        description=description,
        due=due if isinstance(due, date) else None,
    )


def _pick(label: str, options: list[str], key: str) -> str | None:
    picked = _select(label, [NONE_OPTION, *options], key, format_func=plain_text)
    return None if picked == NONE_OPTION else picked


def _preview(dataset: Dataset, draft: KPI | None, unit: str) -> None:
    """The KPI's latest value over all rows, computed by the engine as the fields change."""
    if draft is None:
        st.caption("Preview: shown once the measure and columns are right.")
        return
    latest, problem = _latest(
        session.cursor(),
        dataset.table,
        live_tables.revision(dataset),
        definition_key(draft),
        draft,
    )
    if problem is not None:
        st.warning(f"Preview: {markdown_text(problem)}", icon=":material/warning:")
    elif latest is None:
        st.caption("Preview: no rows give this KPI a value.")
    else:
        period = latest["period"]
        when = "All rows" if period is None else charts.period_label(period, draft.grain)
        scope = ", all categories" if draft.by else ""
        st.metric(
            f"Preview · latest value ({when}{scope})",
            charts.format_value(latest["actual"], unit, currency=draft.currency),
            border=True,
        )


def _delete_and_close(kpi_set_id: str, name: str) -> str | None:
    _close()
    return _delete_kpi(kpi_set_id, name)


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


def file_section(kpi_set: KPISet, saved: list[KPI], columns: dict[str, str]) -> None:
    """The sidebar's import and export of the KPI file."""
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
