"""The records the store saves (datasets, KPI sets and their history, saved views, notes),
their ids and the limits of their text, checked before anything reaches SQL.

Ids are ``secrets.token_urlsafe(16)`` (128 random bits), safe to put in links; every id is
checked against :data:`ID_RE` before it reaches SQL.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from kpi_logic.errors import StoreError
from kpi_logic.kpi_file import MAX_FILE_CHARS

ID_RE = re.compile(r"[A-Za-z0-9_-]{22}")
TABLE_RE = re.compile(r"ds_[0-9a-f]{32}")
MAX_NAME_CHARS = 200
MAX_NOTE_CHARS = 10_000
MAX_SUMMARY_CHARS = 2_000
MAX_YAML_CHARS = MAX_FILE_CHARS  # the KPI file's own limit: a saved set can be read back
MAX_STATE_CHARS = 100_000


@dataclass(frozen=True)
class Dataset:
    """A dataset at one of its versions (timestamps are UTC): ``table``, ``rows``,
    ``source_name``, ``content_hash`` and ``created_at`` are that version's; ``current`` is
    the version links and views follow unless they pin one."""

    id: str
    name: str
    source_name: str
    table: str
    rows: int
    content_hash: str
    created_at: datetime
    version: int = 1
    current: int = 1

    @property
    def pinned(self) -> bool:
        """True when this is not the dataset's current version."""
        return self.version != self.current


@dataclass(frozen=True)
class DatasetVersion:
    """One version of a dataset: its table, the file it came from, who took it and when."""

    dataset_id: str
    version: int
    table: str
    source_name: str
    rows: int
    content_hash: str
    author: str
    summary: str
    created_at: datetime


@dataclass(frozen=True)
class DeletionImpact:
    """What deleting a dataset takes with it: its KPI sets (names), their notes and history
    lines, its versions, and the saved views that open it (they then say it is gone)."""

    kpi_sets: tuple[str, ...]
    notes: int
    history: int
    versions: int
    views: tuple[str, ...]


@dataclass(frozen=True)
class DatasetEvent:
    """One line of a dataset's history: a version taken or restored, a type changed."""

    dataset_id: str
    changed_at: datetime
    author: str
    summary: str


@dataclass(frozen=True)
class LiveTable:
    """Where a live dataset's rows are: a table of the engine at the connection named
    ``connection`` (``[connections.NAME]`` in the app's secrets); ``refreshed_at`` is when its
    cached figures were last dropped."""

    dataset_id: str
    connection: str
    schema: str | None
    table: str
    refreshed_at: datetime


@dataclass(frozen=True)
class KPISet:
    """A KPI YAML file attached to a dataset; ``version`` counts its updates."""

    id: str
    dataset_id: str
    name: str
    yaml_text: str
    author: str
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    """One update of a KPI set: who, when, why, and the YAML before and after."""

    kpi_set_id: str
    version: int
    changed_at: datetime
    author: str
    summary: str
    before_yaml: str
    after_yaml: str


@dataclass(frozen=True)
class View:
    """A named, saved view state (a JSON object)."""

    id: str
    name: str
    state: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Note:
    """A comment on one KPI of a KPI set, with an optional status label."""

    id: str
    kpi_set_id: str
    kpi_name: str
    author: str
    text: str
    status: str | None
    created_at: datetime
    period: date | None = None  # the period the note is about (its first day), if any


def new_id() -> str:
    """A fresh random id: 22 url-safe characters, 128 bits."""
    return secrets.token_urlsafe(16)


def new_table_name() -> str:
    """A fresh name for a dataset table, ``ds_`` + 32 hex digits."""
    return "ds_" + secrets.token_hex(16)


def is_valid_id(value: object) -> bool:
    """True if ``value`` has the shape of an id made by :func:`new_id`."""
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None


def _check_id(value: object, what: str) -> None:
    if not is_valid_id(value):
        raise StoreError(f"This link to a {what} is broken: the id is not valid.")


def _check_text(value: object, what: str, limit: int, *, required: bool = True) -> None:
    if not isinstance(value, str):
        raise StoreError(f"The {what} must be text.")
    if required and not value.strip():
        raise StoreError(f"The {what} cannot be empty.")
    if len(value) > limit:
        raise StoreError(f"The {what} is too long ({len(value):,} characters, at most {limit:,}).")


def _state_json(state: dict[str, Any]) -> str:
    """Serialise a view state to JSON text, refusing non-JSON values and oversize states."""
    if not isinstance(state, dict):
        raise StoreError("A view can only be saved from a dictionary of settings.")
    try:
        text = json.dumps(state, allow_nan=False, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as err:
        raise StoreError(f"This view cannot be saved: {err}.") from err
    if len(text) > MAX_STATE_CHARS:
        raise StoreError("This view has too many settings to be saved.")
    return text


def _view(row: tuple[Any, ...]) -> View:
    view_id, name, state, created_at, updated_at = row
    return View(view_id, name, json.loads(state), created_at, updated_at)
