"""Copy a whole store into another, empty one (``python -m kpi_logic store copy``): every
dataset with all its versions (the rows too), KPI sets and their history, saved views and
notes, with the same ids, so every link made on the old store opens on the new one."""

from __future__ import annotations

from typing import NamedTuple

from kpi_logic.errors import StoreError
from kpi_logic.store.postgres import export_table
from kpi_logic.store.store import Store

# Each table with the columns copied, in an order that keeps the saved order (``seq``).
_TABLES = (
    ("datasets", "id, name, source_name, table_name, rows, content_hash, created_at, version"),
    (
        "dataset_versions",
        "dataset_id, version, table_name, source_name, rows, content_hash, author, summary, "
        "created_at",
    ),
    ("dataset_history", "dataset_id, changed_at, author, summary"),
    ("kpi_sets", "id, dataset_id, name, yaml_text, author, version, created_at, updated_at"),
    ("history", "kpi_set_id, version, changed_at, author, summary, before_yaml, after_yaml"),
    ("views", "id, name, state, created_at, updated_at"),
    ("notes", "id, kpi_set_id, kpi_name, author, text, status, created_at, period"),
)
_ORDER = {"dataset_versions": "dataset_id, version", "history": "kpi_set_id, version"}


class Copied(NamedTuple):
    """How many records of each kind were copied."""

    datasets: int
    versions: int
    kpi_sets: int
    views: int
    notes: int

    def summary(self, where: str) -> str:
        """One line for the command line."""
        return (
            f"Copied {self.datasets} datasets ({self.versions} versions), {self.kpi_sets} KPI "
            f"sets, {self.views} saved views and {self.notes} notes to {where}."
        )


def copy_store(source: Store, target: Store) -> Copied:
    """Copy everything ``source`` holds into ``target`` in one transaction of ``target``;
    refused (nothing copied) when ``target`` already holds a dataset or a saved view. The
    target is a PostgreSQL team store (see :class:`Store`'s ``url``)."""
    if target.url is None:
        raise StoreError("Stores are copied into a PostgreSQL database (a postgresql:// URL).")
    src, dst = source.cursor(), target.cursor()
    if target.list_datasets(dst) or target.list_views(dst):
        raise StoreError("The store to copy into already holds data; copy into an empty one.")
    counts: dict[str, int] = {}
    with target._write(dst) as db:
        for table, columns in _TABLES:
            order = _ORDER.get(table, "seq")
            rows = (
                source._db(src)
                .execute(f"SELECT {columns} FROM {table} ORDER BY {order}")
                .fetchall()
            )
            marks = ", ".join("?" * len(columns.split(",")))
            for row in rows:
                db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row))
            counts[table] = len(rows)
        for table in sorted(source.all_tables(src)):
            source.ensure_local(src, table, _hash(source, table))
            _copy_table(source, target, db, table)
    return Copied(
        counts["datasets"],
        counts["dataset_versions"],
        counts["kpi_sets"],
        counts["views"],
        counts["notes"],
    )


def _hash(store: Store, table: str) -> str:
    row = (
        store._db(store.cursor())
        .execute("SELECT content_hash FROM dataset_versions WHERE table_name = ?", [table])
        .fetchone()
    )
    return str(row[0]) if row else ""


def _copy_table(source: Store, target: Store, db: object, table: str) -> None:
    """The rows of one version (and its rejects) from ``source``'s DuckDB into ``target``."""
    src = source.cursor()
    data = export_table(src, table, source.exchange_dir)
    exists = src.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table + "_rejects"]
    ).fetchone()
    rejects = (
        export_table(src, table + "_rejects", source.exchange_dir) if exists and exists[0] else None
    )
    target.save_table_data(db, table, _hash(source, table), data, rejects)
