"""Datasets in the store: save an upload to disk, load it as a dataset, change a column's type,
keep rejected rows, delete, and load the bundled sample on first start.

Each dataset remembers where it came from (file, sheet, type overrides) in
``<upload dir>/<table>.json``, so a column's type can be changed later by reloading the file.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import duckdb
import pandas as pd

from kpi_logic import ingest
from kpi_logic.errors import IngestError
from kpi_logic.sql import quote_ident
from kpi_logic.store import Dataset, Store, new_id, new_table_name

CHUNK_BYTES = 1 << 20
REJECTS_SUFFIX = "_rejects"
REJECT_COLUMNS = ["row", "column", "value", "reason"]

Progress = Callable[[float, str], None]


def _safe_filename(name: str) -> str:
    stem = re.sub(r"[^\w.\- ]+", "_", Path(name).name).strip(" .") or "upload"
    return stem[:150]


def save_upload(upload_dir: Path, filename: str, stream: BinaryIO) -> Path:
    """Copy an uploaded file to its own folder under ``upload_dir`` in 1 MB chunks (never a
    second copy in memory); return the path."""
    folder = Path(upload_dir) / new_id()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _safe_filename(filename)
    stream.seek(0)
    with path.open("wb") as out:
        shutil.copyfileobj(stream, out, CHUNK_BYTES)
    return path


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _source_file(upload_dir: Path, table: str) -> Path:
    return Path(upload_dir) / f"{table}.json"


def _revision(digest: str, sheet: str | None, types: dict[str, str]) -> str:
    """Content hash of a dataset: the file's bytes, the sheet and the type overrides."""
    extra = json.dumps([sheet, sorted(types.items())], separators=(",", ":"))
    return f"{digest}:{hashlib.sha256(extra.encode()).hexdigest()[:16]}"


def add_dataset(
    store: Store,
    cur: duckdb.DuckDBPyConnection,
    path: Path,
    name: str,
    upload_dir: Path,
    *,
    sheet: str | None = None,
    progress: Progress | None = None,
) -> tuple[Dataset, ingest.LoadResult]:
    """Load ``path`` into a new table, keep its rejected rows, and record it as a dataset."""
    table = new_table_name()
    try:
        with cur.cursor() as loader:  # a cursor without unfinished results of the caller's
            result = ingest.load_file(loader, path, table, sheet=sheet, progress=progress)
        _save_rejects(cur, table, result.rejects)
        digest = file_hash(path)
        dataset_id = store.register_dataset(
            cur, name, Path(path).name, table, result.rows, _revision(digest, sheet, {})
        )
        source = {"path": str(path), "sheet": sheet, "types": {}, "file_hash": digest}
        _write_source(upload_dir, table, source)
    except BaseException:  # also a cancelled load (the progress callback raises then)
        for leftover in (table, table + REJECTS_SUFFIX):
            cur.execute(f"DROP TABLE IF EXISTS {quote_ident(leftover)}")
        raise
    return store.get_dataset(cur, dataset_id), result


def _write_source(upload_dir: Path, table: str, source: dict) -> None:
    Path(upload_dir).mkdir(parents=True, exist_ok=True)
    _source_file(upload_dir, table).write_text(json.dumps(source), encoding="utf-8")


def _read_source(upload_dir: Path, dataset: Dataset) -> dict:
    try:
        source = json.loads(_source_file(upload_dir, dataset.table).read_text("utf-8"))
    except (OSError, ValueError) as err:
        raise IngestError(
            f"The original file of {dataset.name} is no longer available; upload it again to "
            "change its types."
        ) from err
    if not Path(source.get("path", "")).is_file():
        raise IngestError(f"The original file {dataset.source_name} is no longer on disk.")
    return source


def type_overrides(upload_dir: Path, dataset: Dataset) -> dict[str, str]:
    """The column types the user chose for ``dataset`` so far (column -> logical type)."""
    try:
        return dict(_read_source(upload_dir, dataset)["types"])
    except IngestError:
        return {}


def retype(
    store: Store,
    cur: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    upload_dir: Path,
    types: dict[str, str],
    *,
    progress: Progress | None = None,
) -> ingest.LoadResult:
    """Reload ``dataset`` from its file with ``types`` (column -> logical type) added to
    earlier overrides. On any problem the dataset stays as it was."""
    source = _read_source(upload_dir, dataset)
    merged = {**source["types"], **types}
    path = Path(source["path"])
    staging = new_table_name()
    try:
        with cur.cursor() as loader:
            result = ingest.load_file(
                loader,
                path,
                staging,
                sheet=source["sheet"],
                type_overrides=merged,
                progress=progress,
            )
    except BaseException:
        cur.execute(f"DROP TABLE IF EXISTS {quote_ident(staging)}")
        raise
    try:
        cur.execute("BEGIN TRANSACTION")
        cur.execute(f"DROP TABLE {quote_ident(dataset.table)}")
        cur.execute(f"ALTER TABLE {quote_ident(staging)} RENAME TO {quote_ident(dataset.table)}")
        cur.execute("COMMIT")
    except duckdb.Error:
        cur.execute("ROLLBACK")
        cur.execute(f"DROP TABLE IF EXISTS {quote_ident(staging)}")
        raise
    _save_rejects(cur, dataset.table, result.rejects)
    revision = _revision(source["file_hash"], source["sheet"], merged)  # the file is unchanged
    store.update_dataset(cur, dataset.id, result.rows, revision)
    _write_source(upload_dir, dataset.table, {**source, "types": merged})
    return result


def delete_dataset(
    store: Store, cur: duckdb.DuckDBPyConnection, dataset: Dataset, upload_dir: Path
) -> None:
    """Delete a dataset with its KPI sets, notes, rejects and its uploaded file."""
    store.delete_dataset(cur, dataset.id)
    cur.execute(f"DROP TABLE IF EXISTS {quote_ident(dataset.table + REJECTS_SUFFIX)}")
    source = _source_file(upload_dir, dataset.table)
    try:
        path = Path(json.loads(source.read_text("utf-8"))["path"])
    except (OSError, ValueError, KeyError):
        path = None
    if path is not None:
        discard_upload(upload_dir, path)
    source.unlink(missing_ok=True)


def discard_upload(upload_dir: Path, path: Path) -> None:
    """Remove a file saved by :func:`save_upload` (files elsewhere, like the sample, stay)."""
    if Path(path).parent.parent == Path(upload_dir):
        shutil.rmtree(Path(path).parent, ignore_errors=True)


def _save_rejects(cur: duckdb.DuckDBPyConnection, table: str, rejects: pd.DataFrame) -> None:
    frame = (
        rejects.astype("string")
        if len(rejects)
        else pd.DataFrame({c: [] for c in REJECT_COLUMNS}, dtype="string")
    )
    name = f"rejects_{new_id()[:12]}"
    cur.register(name, frame)
    try:
        cur.execute(
            f"CREATE OR REPLACE TABLE {quote_ident(table + REJECTS_SUFFIX)} AS "
            f"SELECT * FROM {quote_ident(name)}"
        )
    finally:
        cur.unregister(name)


def rejects(cur: duckdb.DuckDBPyConnection, dataset: Dataset) -> pd.DataFrame:
    """Rows or values that were rejected when ``dataset`` was loaded, with the reason."""
    name = dataset.table + REJECTS_SUFFIX
    exists = cur.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]
    ).fetchone()[0]
    if not exists:
        return pd.DataFrame(columns=REJECT_COLUMNS)
    return cur.execute(f"SELECT * FROM {quote_ident(name)}").df()


def ensure_sample(store: Store, data_file: Path, kpi_file: Path, upload_dir: Path) -> None:
    """Load the bundled sample and its KPI file when the store has no dataset at all."""
    cur = store.cursor()
    if store.list_datasets(cur):
        return
    dataset, _ = add_dataset(store, cur, data_file, "Sample sales (bundled)", upload_dir)
    store.save_kpi_set(cur, dataset.id, "Sample KPIs", Path(kpi_file).read_text("utf-8"), "sample")
