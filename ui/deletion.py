"""Deleting a dataset on the Data page: what goes with it, confirmed by typing its name, by the
id the button was drawn for."""

from __future__ import annotations

import streamlit as st

from kpi_logic import workspace
from kpi_logic.errors import KPIExplorerError
from kpi_logic.store import Dataset, DeletionImpact
from kpi_logic.text import markdown_text
from ui import layout, session

CONFIRM_KEY = "delete_confirm"
OPEN_KEY = "open_delete_dataset"  # the section stays open while the name is typed


def _count(number: int, word: str) -> str:
    return f"{number:,} {word}{'' if number == 1 else 's'}"


def _named(names: tuple[str, ...]) -> str:
    return f": {markdown_text(', '.join(names))}" if names else ""


def impact_lines(impact: DeletionImpact) -> list[str]:
    """What deleting the dataset takes with it, one markdown line each (names escaped)."""
    return [
        _count(len(impact.kpi_sets), "KPI set") + _named(impact.kpi_sets),
        f"{_count(impact.notes, 'note')} and {_count(impact.history, 'history line')} of "
        "those KPI sets",
        _count(impact.versions, "version") + " of its data, with the uploaded files",
        f"{_count(len(impact.views), 'saved view')} open it{_named(impact.views)}: they stay, "
        "and will say that the dataset is gone",
    ]


def section(dataset: Dataset) -> None:
    """Say what deleting the dataset shown takes with it; the Delete button stays disabled
    until the dataset's name is typed, and acts on the id it was drawn for."""
    box = layout.lazy_expander("Delete this dataset", OPEN_KEY, icon=":material/delete:")
    if box is None:
        return
    with box:
        try:
            impact = session.store().deletion_impact(session.cursor(), dataset.id)
        except KPIExplorerError as err:
            st.error(markdown_text(err))
            return
        st.markdown(
            f"Deleting **{markdown_text(dataset.name)}** deletes, for everyone, its table and:"
        )
        for line in impact_lines(impact):  # one element each: no line breaks in user text
            st.markdown(f"- {line}")
        typed = st.text_input(
            "Type the dataset's name to confirm",
            key=CONFIRM_KEY,
            max_chars=1000,
            help="The Delete button is enabled once the name matches (press Enter).",
        )
        layout.action_button(
            f"Delete {markdown_text(dataset.name)}",
            "delete_dataset",
            _delete,
            dataset.id,
            dataset.name,
            type="primary",
            disabled=typed.strip() != dataset.name.strip(),
        )


def _delete(dataset_id: str, name: str) -> str | None:
    """The delete button: delete the dataset it was drawn for, never the one shown now (another
    tab may have deleted it, and the picker fallen back to another), only when its name is
    typed; say why it could not."""
    if str(st.session_state.get(CONFIRM_KEY, "")).strip() != name.strip():
        return f"Type the name “{name}” to delete this dataset."
    try:
        workspace.delete_dataset(
            session.store(), session.cursor(), dataset_id, session.upload_dir()
        )
    except KPIExplorerError as err:
        return str(err)
    st.session_state[CONFIRM_KEY] = ""
    session.set_view(dataset=None, kpi_set=None, kpi=None, targets={}, filters={})
    return None
