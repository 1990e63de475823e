"""Datasets in the store: save an upload to disk, load it as a dataset, change a column's type,
keep rejected rows, delete, and load the bundled sample on first start.

Each dataset remembers where it came from (file, sheet, type overrides) in
``<upload dir>/<table>.json``, so a column's type can be changed later by reloading the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, NamedTuple, TypeVar

import duckdb
import pandas as pd

from kpi_logic import ingest
from kpi_logic.errors import DiskFullError, IngestError, StoreError
from kpi_logic.sql import quote_ident
from kpi_logic.store import (
    ID_RE,
    REJECTS_SUFFIX,
    Dataset,
    Store,
    is_disk_full,
    is_valid_id,
    new_id,
    new_table_name,
)

CHUNK_BYTES = 1 << 20
REJECT_COLUMNS = ["row", "column", "value", "reason"]
SWEEP_GRACE_SECONDS = 10 * 60  # upload folders and files younger than this are never swept
_SOURCE_RE = re.compile(r"(ds_[0-9a-f]{32})\.json(\.tmp)?")

Progress = Callable[[float, str], None]


def _safe_filename(name: str) -> str:
    """``name`` safe on disk: other characters than letters, digits, ``.-_`` and spaces
    replaced, at most 150 bytes of UTF-8, its extension kept (the loader reads by it)."""
    safe = Path(re.sub(r"[^\w.\- ]+", "_", Path(name).name).strip(" .") or "upload")
    suffix = safe.suffix if len(safe.suffix) <= 10 else ""
    room = 150 - len(suffix.encode())
    stem = safe.name[: len(safe.name) - len(suffix)].encode()[:room].decode(errors="ignore")
    return (stem.rstrip(" .") or "upload") + suffix


def save_upload(upload_dir: Path, filename: str, stream: BinaryIO) -> Path:
    """Copy an uploaded file to its own folder under ``upload_dir`` in 1 MB chunks (never a
    second copy in memory); return the path. On failure nothing is left on disk (a full disk
    raises :class:`DiskFullError`)."""
    folder = Path(upload_dir) / new_id()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / _safe_filename(filename)
        stream.seek(0)
        with path.open("wb") as out:
            shutil.copyfileobj(stream, out, CHUNK_BYTES)
    except BaseException as err:
        shutil.rmtree(folder, ignore_errors=True)
        if is_disk_full(err):
            raise DiskFullError() from err
        raise
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


class Staged(NamedTuple):
    """A file loaded into a table of its own that no dataset uses yet (see :func:`stage`)."""

    table: str
    path: Path
    sheet: str | None
    result: ingest.LoadResult
    revision: str

    @property
    def rows(self) -> int:
        """The rows loaded."""
        return _counted(self.result)


def stage(
    store: Store,
    cur: duckdb.DuckDBPyConnection,
    path: Path,
    upload_dir: Path,
    *,
    sheet: str | None = None,
    progress: Progress | None = None,
) -> Staged:
    """Load ``path`` into a new table with its rejected rows and the file that remembers its
    source, without recording it: :func:`add_dataset` makes it a dataset, the version
    functions of :mod:`kpi_logic.versions` a dataset's next version, :func:`unstage` drops it.

    On any failure (or a cancel) the tables and files of this load are removed; a full disk
    raises :class:`DiskFullError`, and a store that the failure made unusable is reopened
    first (:meth:`Store.recover`)."""
    table = new_table_name()
    source = _source_file(upload_dir, table)
    try:
        with cur.cursor() as loader:  # a cursor without unfinished results of the caller's
            result = ingest.load_file(loader, path, table, sheet=sheet, progress=progress)
        _save_rejects(cur, table, result.rejects)
        digest = file_hash(path)
        _write_json(source, {"path": str(path), "sheet": sheet, "types": {}, "file_hash": digest})
        _counted(result)  # a view (no row count) is refused here
        staged = Staged(table, Path(path), sheet, result, _revision(digest, sheet, {}))
    except BaseException as err:  # also a cancelled load (the progress callback raises then)
        problem = undo(store, cur, err, [table, table + REJECTS_SUFFIX], [source])
        if problem is not None:
            raise problem from err
        raise
    return staged


def unstage(store: Store, cur: duckdb.DuckDBPyConnection, staged: Staged, upload_dir: Path) -> None:
    """Drop a staged load that was not taken (its tables, source file and uploaded file)."""
    for table in (staged.table, staged.table + REJECTS_SUFFIX):
        with contextlib.suppress(duckdb.Error):
            cur.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")
    _source_file(upload_dir, staged.table).unlink(missing_ok=True)
    discard_upload(upload_dir, staged.path)


def add_dataset(
    store: Store,
    cur: duckdb.DuckDBPyConnection,
    path: Path,
    name: str,
    upload_dir: Path,
    *,
    sheet: str | None = None,
    progress: Progress | None = None,
    author: str = "",
) -> tuple[Dataset, ingest.LoadResult]:
    """Load ``path`` into a new table, keep its rejected rows, and record it as a dataset.

    On any failure (or a cancel) nothing is recorded and the tables and files of this load are
    removed; a full disk raises :class:`DiskFullError`, and a store that the failure made
    unusable is reopened first (:meth:`Store.recover`)."""
    staged = stage(store, cur, path, upload_dir, sheet=sheet, progress=progress)
    dataset_id = record(
        store,
        cur,
        staged,
        upload_dir,
        lambda: store.register_dataset(
            cur, name, Path(path).name, staged.table, staged.rows, staged.revision, author
        ),
    )
    # a new cursor: a commit whose checkpoint failed is kept, but the store was reopened
    return store.get_dataset(store.cursor(), dataset_id), staged.result


T = TypeVar("T")


def record(
    store: Store,
    cur: duckdb.DuckDBPyConnection,
    staged: Staged,
    upload_dir: Path,
    save: Callable[[], T],
) -> T:
    """Run ``save`` (the store's transaction recording ``staged``); on failure remove what
    the load made and raise what to show."""
    try:
        return save()
    except BaseException as err:
        files = [_source_file(upload_dir, staged.table)]
        problem = undo(store, cur, err, [staged.table, staged.table + REJECTS_SUFFIX], files)
        if problem is not None:
            raise problem from err
        raise


def adopt(
    cur: duckdb.DuckDBPyConnection,
    upload_dir: Path,
    staged: Staged,
    table: str,
    *,
    appended_to: str,
) -> Staged:
    """``staged`` with its rows now in ``table`` (made from it and the rows of
    ``appended_to``): the staged table is dropped and the file that remembers the source
    moves to ``table``, marked as appended (such a version is not reloaded to change types)."""
    cur.execute(f"DROP TABLE IF EXISTS {quote_ident(staged.table)}")
    old = _source_file(upload_dir, staged.table)
    source = json.loads(old.read_text("utf-8"))
    _write_json(_source_file(upload_dir, table), {**source, "appended_to": appended_to})
    old.unlink(missing_ok=True)
    return staged._replace(table=table)


def undo(
    store: Store,
    cur: duckdb.DuckDBPyConnection,
    err: BaseException,
    tables: list[str],
    files: list[Path],
) -> StoreError | None:
    """Remove what a failed step made, after making the store usable again; return the error
    to show instead of ``err`` (None: show ``err``). Tables that cannot be dropped now (a full
    disk) are left to :func:`sweep_orphans`."""
    problem = store.recover(err) if isinstance(err, Exception) else None
    for file in files:
        file.unlink(missing_ok=True)
    try:
        dropper = cur if problem is None else store.cursor()  # a reopen closed ``cur``
        for table in tables:
            dropper.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")
    except duckdb.Error:
        pass
    return problem


def _write_json(path: Path, source: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(source), encoding="utf-8")


def _read_source(upload_dir: Path, dataset: Dataset) -> dict:
    try:
        source = json.loads(_source_file(upload_dir, dataset.table).read_text("utf-8"))
    except (OSError, ValueError) as err:
        raise IngestError(
            f"The original file of {dataset.name} is no longer available; upload it again to "
            "change its types."
        ) from err
    if source.get("appended_to"):
        raise IngestError(
            "This version was made by appending rows to an earlier one; change the types of "
            "the file you upload instead."
        )
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
    author: str = "",
) -> ingest.LoadResult:
    """Reload ``dataset`` from its file with ``types`` (column -> logical type) added to
    earlier overrides. The table, its rejects, its row count and content hash change in one
    transaction, and the file that remembers the overrides is replaced only after it: on any
    problem the dataset stays as it was and retrying is safe."""
    source = _read_source(upload_dir, dataset)
    merged = {**source["types"], **types}
    path = Path(source["path"])
    staging = new_table_name()
    pending = _source_file(upload_dir, dataset.table).with_suffix(".json.tmp")
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
        _save_rejects(cur, staging, result.rejects)
        _write_json(pending, {**source, "types": merged})
        revision = _revision(source["file_hash"], source["sheet"], merged)  # same file bytes
        summary = "column types changed: " + ", ".join(
            f"{c} → {t}" for c, t in sorted(types.items())
        )
        store.replace_table(
            cur, dataset, staging, _counted(result), revision, author=author, summary=summary
        )
    except BaseException as err:
        problem = undo(store, cur, err, [staging, staging + REJECTS_SUFFIX], [pending])
        if problem is not None:
            raise problem from err
        raise
    os.replace(pending, _source_file(upload_dir, dataset.table))
    return result


def delete_dataset(
    store: Store, cur: duckdb.DuckDBPyConnection, dataset_id: str, upload_dir: Path
) -> Dataset:
    """Delete the dataset ``dataset_id`` with its KPI sets, notes, rejects and its uploaded
    file (unless another dataset, e.g. another sheet of the workbook, still uses it); return
    what was deleted. StoreError "This dataset was already deleted." when it no longer exists.
    Every version goes, with the files it was loaded from."""
    versions = store.list_versions(cur, dataset_id) if is_valid_id(dataset_id) else []
    dataset = store.delete_dataset(cur, dataset_id)
    live = store.all_tables(store.cursor())  # ``cur`` may be closed now
    in_use = _folders_in_use(upload_dir, live)
    for version in versions:
        source = _source_file(upload_dir, version.table)
        try:
            path = Path(json.loads(source.read_text("utf-8"))["path"])
        except (OSError, ValueError, KeyError, TypeError):
            path = None
        source.unlink(missing_ok=True)
        if path is not None and path.resolve().parent not in in_use:
            discard_upload(upload_dir, path)
    return dataset


def _folders_in_use(upload_dir: Path, tables: set[str]) -> set[Path]:
    """The upload folders (resolved) holding the files of the datasets whose tables are
    ``tables``."""
    folders = set()
    for table in tables:
        try:
            text = _source_file(upload_dir, table).read_text("utf-8")
            folders.add(Path(json.loads(text)["path"]).resolve().parent)
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return folders


def sweep_orphans(
    store: Store, upload_dir: Path, *, grace_seconds: float = SWEEP_GRACE_SECONDS
) -> list[str]:
    """Remove what crashed loads left behind; return the names removed.

    Tables: see :meth:`Store.drop_orphan_tables` (call this when the store is opened, before
    any load starts). Under ``upload_dir`` only, and only entries older than
    ``grace_seconds`` (an upload in progress is never touched): upload folders that no dataset
    uses and ``<table>.json`` files of tables that are not datasets. Files elsewhere (the
    bundled sample) and anything a dataset refers to are kept.
    """
    removed = []
    uploads = Path(upload_dir)
    if uploads.is_dir():
        cutoff = time.time() - grace_seconds
        old = [e for e in uploads.iterdir() if _last_change(e) < cutoff]  # before reading rows
        live = store.all_tables(store.cursor())
        used = _folders_in_use(uploads, live)
        for entry in old:
            source = _SOURCE_RE.fullmatch(entry.name)
            if entry.is_symlink() or not (entry.is_dir() or entry.is_file()):
                continue
            if entry.is_dir() and ID_RE.fullmatch(entry.name) and entry.resolve() not in used:
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.is_file() and source and (source.group(2) or source.group(1) not in live):
                entry.unlink(missing_ok=True)
            else:
                continue
            removed.append(entry.name)
    with contextlib.suppress(StoreError):  # a full disk: the tables are dropped next time
        removed += store.drop_orphan_tables(store.cursor())
    return removed


def _last_change(entry: Path) -> float:
    """The newest modification time of ``entry`` and, for a folder, of what is directly in it
    (infinity when it changes meanwhile: another session is using it)."""
    try:
        times = [entry.lstat().st_mtime]
        if entry.is_dir() and not entry.is_symlink():
            times += [child.lstat().st_mtime for child in entry.iterdir()]
    except FileNotFoundError:
        return float("inf")
    return max(times)


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
    with cur.cursor() as writer:  # the caller's cursor may hold an unfinished result
        writer.register(name, frame)
        writer.execute(
            f"CREATE OR REPLACE TABLE {quote_ident(table + REJECTS_SUFFIX)} AS "
            f"SELECT * FROM {quote_ident(name)}"
        )


def _counted(result: ingest.LoadResult) -> int:
    """The rows of a loaded table (a table counts them; only a view leaves them unknown)."""
    if result.rows is None:
        raise IngestError(f"{result.table} was opened as a view, not loaded as a table.")
    return result.rows


def rejects(cur: duckdb.DuckDBPyConnection, dataset: Dataset) -> pd.DataFrame:
    """Rows or values that were rejected when ``dataset`` was loaded, with the reason."""
    name = dataset.table + REJECTS_SUFFIX
    exists = (
        cur.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchone()
        or (0,)
    )[0]
    if not exists:
        return pd.DataFrame(columns=REJECT_COLUMNS)
    return cur.execute(f"SELECT * FROM {quote_ident(name)}").df()


def ensure_sample(store: Store, data_file: Path, kpi_file: Path, upload_dir: Path) -> None:
    """Load the bundled sample and its KPI file when the store has no dataset at all."""
    cur = store.cursor()
    if store.list_datasets(cur):
        return
    dataset, _ = add_dataset(store, cur, data_file, "Sample sales (bundled)", upload_dir)
    store.save_kpi_set(
        store.cursor(), dataset.id, "Sample KPIs", Path(kpi_file).read_text("utf-8"), "sample"
    )
