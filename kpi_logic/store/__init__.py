"""Persistent store for datasets, KPI sets and their history, saved views and notes.

One :class:`Store` (one DuckDB connection) per process; every session or thread takes its own
``store.cursor()`` and passes it to each call. Every save is a single transaction, so a crash
leaves either the whole change or none of it. Ids are ``secrets.token_urlsafe(16)`` (128 random
bits), safe to put in links; every id is checked against :data:`ID_RE` before it reaches SQL,
and every value is a bound parameter.

With ``url="postgresql://..."`` everything is saved in that database instead (the datasets'
rows too) and the DuckDB file only computes: see :mod:`kpi_logic.store.postgres`.

>>> store = Store("store/kpi_store.duckdb")            # doctest: +SKIP
>>> cur = store.cursor()                                # doctest: +SKIP
>>> view_id = store.save_view(cur, "West, 2017", {"ds": "..."})  # doctest: +SKIP
"""

from kpi_logic.store.connection import SCHEMA_VERSION, is_disk_full
from kpi_logic.store.datasets import REJECTS_SUFFIX
from kpi_logic.store.files import (
    REPO_DATA_DIR,
    data_dir_from_env,
    set_aside,
    store_path_from_env,
    store_url_from_env,
    upload_dir_for,
)
from kpi_logic.store.postgres import is_url
from kpi_logic.store.records import (
    ID_RE,
    MAX_NAME_CHARS,
    MAX_NOTE_CHARS,
    MAX_STATE_CHARS,
    MAX_SUMMARY_CHARS,
    MAX_YAML_CHARS,
    TABLE_RE,
    Dataset,
    DatasetEvent,
    DatasetVersion,
    DeletionImpact,
    HistoryEntry,
    KPISet,
    LiveTable,
    Note,
    View,
    is_valid_id,
    new_id,
    new_table_name,
)
from kpi_logic.store.store import Store

__all__ = [
    "ID_RE",
    "MAX_NAME_CHARS",
    "MAX_NOTE_CHARS",
    "MAX_STATE_CHARS",
    "MAX_SUMMARY_CHARS",
    "MAX_YAML_CHARS",
    "REJECTS_SUFFIX",
    "REPO_DATA_DIR",
    "SCHEMA_VERSION",
    "TABLE_RE",
    "Dataset",
    "DatasetEvent",
    "DatasetVersion",
    "DeletionImpact",
    "HistoryEntry",
    "KPISet",
    "LiveTable",
    "Note",
    "Store",
    "View",
    "data_dir_from_env",
    "is_disk_full",
    "is_valid_id",
    "new_id",
    "new_table_name",
    "set_aside",
    "store_path_from_env",
    "store_url_from_env",
    "is_url",
    "upload_dir_for",
]
