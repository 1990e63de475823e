"""New versions of a dataset: a staged file (see :func:`kpi_logic.workspace.stage`) checked
against the current version (columns added, removed, retyped, and the KPIs that would break),
then taken as a replacement or appended by a key column; earlier versions restored; names
and labels that tell datasets and versions apart.

>>> schema_diff({"A": "BIGINT", "B": "VARCHAR"}, {"A": "DOUBLE", "C": "DATE"}).lines()
['Added: C', 'Removed: B', 'Retyped: A (integer → number)']
>>> unique_name("sales.csv", ["sales.csv", "sales.csv (2)"])
'sales.csv (3)'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from kpi_logic import compute, workspace
from kpi_logic.errors import IngestError, KPIExplorerError
from kpi_logic.ingest_types import logical_type
from kpi_logic.kpi_file import kpis_from_yaml
from kpi_logic.sql import quote_ident
from kpi_logic.store import REJECTS_SUFFIX, Dataset, Store, new_table_name


@dataclass(frozen=True)
class SchemaDiff:
    """How a new version's columns differ from the current one's (types are our logical
    types: a change DuckDB makes between two integer widths is no change)."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    retyped: tuple[tuple[str, str, str], ...]  # column, old type, new type

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.retyped)

    def lines(self) -> list[str]:
        """One line per kind of change, for a page or a message."""
        lines = []
        if self.added:
            lines.append("Added: " + ", ".join(self.added))
        if self.removed:
            lines.append("Removed: " + ", ".join(self.removed))
        if self.retyped:
            lines.append(
                "Retyped: " + ", ".join(f"{c} ({old} → {new})" for c, old, new in self.retyped)
            )
        return lines


@dataclass(frozen=True)
class BrokenKPI:
    """A KPI that the new version's columns cannot compute, and why."""

    kpi_set: str
    kpi: str
    reason: str


@dataclass(frozen=True)
class VersionCheck:
    """What taking a staged file as the next version would change."""

    diff: SchemaDiff
    broken: tuple[BrokenKPI, ...]


def schema_diff(old: Mapping[str, str], new: Mapping[str, str]) -> SchemaDiff:
    """The columns ``new`` adds, removes and retypes against ``old`` (column -> DuckDB type)."""
    retyped = tuple(
        (column, logical_type(old[column]), logical_type(new[column]))
        for column in old
        if column in new and logical_type(old[column]) != logical_type(new[column])
    )
    return SchemaDiff(
        added=tuple(c for c in new if c not in old),
        removed=tuple(c for c in old if c not in new),
        retyped=retyped,
    )


def broken_kpis(
    store: Store, cur: duckdb.DuckDBPyConnection, dataset_id: str, columns: Mapping[str, str]
) -> list[BrokenKPI]:
    """The KPIs of every KPI set of the dataset that ``columns`` cannot compute, by name, with
    the checks a computation makes (a set that cannot be read is skipped: it breaks nothing
    new)."""
    broken = []
    for kpi_set in store.list_kpi_sets(cur, dataset_id):
        try:
            kpis = kpis_from_yaml(kpi_set.yaml_text)
        except KPIExplorerError:
            continue
        for kpi in kpis:
            try:
                compute.check_kpi(kpi, columns)
            except KPIExplorerError as err:
                broken.append(BrokenKPI(kpi_set.name, kpi.name, str(err)))
    return broken


def check(
    store: Store, cur: duckdb.DuckDBPyConnection, dataset: Dataset, staged: workspace.Staged
) -> VersionCheck:
    """The schema diff of ``staged`` against ``dataset``'s version, and the KPIs it breaks."""
    new = compute.table_columns(cur, staged.table)
    diff = schema_diff(compute.table_columns(cur, dataset.table), new)
    return VersionCheck(diff, tuple(broken_kpis(store, cur, dataset.id, new)))


def replace(
    store: Store,
    cur: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    staged: workspace.Staged,
    upload_dir: Path,
    author: str,
) -> Dataset:
    """Take ``staged`` as the dataset's next version (the current one from now on)."""
    summary = f"New version from {staged.path.name} ({staged.rows:,} rows)"
    workspace.record(
        store,
        cur,
        staged,
        upload_dir,
        lambda: store.add_version(
            cur,
            dataset.id,
            staged.table,
            staged.path.name,
            staged.rows,
            staged.revision,
            author,
            summary,
        ),
    )
    return store.get_dataset(store.cursor(), dataset.id)


@dataclass(frozen=True)
class Appended:
    """The version an append made, with the rows it added and skipped as duplicates."""

    dataset: Dataset
    added: int
    skipped: int


def append(
    store: Store,
    cur: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    staged: workspace.Staged,
    upload_dir: Path,
    author: str,
    key: str | None,
) -> Appended:
    """Add the rows of ``staged`` to ``dataset``'s version as the next version. The file must
    have the same columns (a value that does not convert to a column's type is refused).
    With a ``key`` column, a row whose key the data already holds, or that an earlier row of
    the file repeats, is skipped and counted. A refused file is dropped (see
    :func:`kpi_logic.workspace.unstage`) and the dataset stays as it was."""
    old = compute.table_columns(cur, dataset.table)
    new = compute.table_columns(cur, staged.table)
    if set(old) != set(new):
        diff = schema_diff(old, new)
        workspace.unstage(store, cur, staged, upload_dir)
        raise IngestError(
            "Rows can only be appended from a file with the same columns ("
            + "; ".join(diff.lines())
            + "). Upload it as a new version instead."
        )
    if key is not None and key not in old:
        workspace.unstage(store, cur, staged, upload_dir)
        raise IngestError(f"The key column {key!r} is not in this dataset.")
    table = new_table_name()
    try:
        cur.execute(_append_sql(table, dataset.table, staged.table, old, key))
        cur.execute(
            f"ALTER TABLE {quote_ident(staged.table + REJECTS_SUFFIX)} "
            f"RENAME TO {quote_ident(table + REJECTS_SUFFIX)}"
        )
        total = _count(cur, table)
    except duckdb.Error as err:
        problem = workspace.undo(store, cur, err, [table, table + REJECTS_SUFFIX], [])
        workspace.unstage(store, store.cursor() if problem else cur, staged, upload_dir)
        if problem is not None:
            raise problem from err
        raise IngestError(
            f"The rows of {staged.path.name} do not fit this dataset's column types: "
            f"{str(err).splitlines()[0]}"
        ) from err
    added = total - dataset.rows
    skipped = staged.rows - added
    revision = hashlib.sha256(
        json.dumps([dataset.content_hash, staged.revision, key]).encode()
    ).hexdigest()
    merged = workspace.adopt(cur, upload_dir, staged, table, appended_to=dataset.table)
    how = f", {skipped:,} skipped as already there by {key}" if key else ""
    summary = f"Appended {added:,} rows from {staged.path.name}{how}"
    workspace.record(
        store,
        cur,
        merged,
        upload_dir,
        lambda: store.add_version(
            cur, dataset.id, table, dataset.source_name, total, revision, author, summary
        ),
    )
    return Appended(store.get_dataset(store.cursor(), dataset.id), added, skipped)


def _append_sql(table: str, old: str, new: str, columns: Mapping[str, str], key: str | None) -> str:
    """The table of the old rows followed by the new ones, cast to the old columns' types;
    with a key, new rows whose key is already there (or repeated) are left out."""
    names = ", ".join(quote_ident(c) for c in columns)
    cast = ", ".join(
        f"CAST(n.{quote_ident(c)} AS {t}) AS {quote_ident(c)}" for c, t in columns.items()
    )
    fresh = f"SELECT {cast} FROM {quote_ident(new)} n"
    if key is not None:
        k = quote_ident(key)
        fresh += (
            f" WHERE NOT EXISTS (SELECT 1 FROM {quote_ident(old)} o WHERE o.{k} IS NOT DISTINCT "
            f"FROM CAST(n.{k} AS {columns[key]})) "
            f"QUALIFY row_number() OVER (PARTITION BY n.{k} ORDER BY n.rowid) = 1"
        )
    return (
        f"CREATE TABLE {quote_ident(table)} AS SELECT {names} FROM {quote_ident(old)} "
        f"UNION ALL ({fresh})"
    )


def _count(cur: duckdb.DuckDBPyConnection, table: str) -> int:
    row = cur.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchone()
    return int(row[0]) if row else 0


def restore(
    store: Store, cur: duckdb.DuckDBPyConnection, dataset_id: str, version: int, author: str
) -> Dataset:
    """Make an earlier version the current one again; return the dataset as it is now."""
    return store.restore_version(cur, dataset_id, version, author)


def unique_name(name: str, taken: Iterable[str]) -> str:
    """``name``, or ``name (2)``, ``name (3)``... whichever no dataset has yet."""
    used = set(taken)
    if name not in used:
        return name
    number = 2
    while f"{name} ({number})" in used:
        number += 1
    return f"{name} ({number})"


def same_name(name: str, datasets: Sequence[Dataset]) -> Dataset | None:
    """The newest dataset called ``name`` or loaded from a file of that name, or None."""
    return next((d for d in datasets if name in (d.name, d.source_name)), None)


def labels(datasets: Sequence[Dataset]) -> dict[str, str]:
    """A label per dataset id that no other dataset shares: its name, version and rows, and
    when that is not enough, the time of the version and then a number."""
    base = {d.id: f"{d.name} · v{d.version} · {d.rows:,} rows" for d in datasets}
    counts: dict[str, int] = {}
    for label in base.values():
        counts[label] = counts.get(label, 0) + 1
    result: dict[str, str] = {}
    seen: set[str] = set()
    for d in datasets:
        label = base[d.id]
        if counts[label] > 1:
            label += f" · {d.created_at:%Y-%m-%d %H:%M:%S}"
        label = unique_name(label, seen)
        seen.add(label)
        result[d.id] = label
    return result


def caption(dataset: Dataset) -> str:
    """Which dataset and version a page shows, in words (not escaped: user text)."""
    where = f"version {dataset.version}"
    if dataset.pinned:
        where += f" (pinned; the latest is version {dataset.current})"
    return f"{dataset.name} · {where} · {dataset.rows:,} rows from {dataset.source_name}"
