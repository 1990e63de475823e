"""Where the store's files are (the store file, its uploads folder) and setting a damaged
store file aside so a new store can start at its path."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from kpi_logic.errors import StoreDamagedError
from kpi_logic.store.postgres import is_url

REPO_DATA_DIR = Path(__file__).resolve().parent.parent.parent / "data"


def data_dir_from_env() -> Path:
    """The data folder: env ``KPI_DATA_DIR``, else ``./store``."""
    return Path(os.environ.get("KPI_DATA_DIR") or "store")


def store_path_from_env() -> Path:
    """The store file: env ``KPI_STORE``, else ``<data folder>/kpi_store.duckdb`` (also when
    ``KPI_STORE`` names a PostgreSQL database: the DuckDB file then only computes)."""
    env = os.environ.get("KPI_STORE")
    if env and not is_url(env):
        return Path(env)
    return data_dir_from_env() / "kpi_store.duckdb"


def store_url_from_env() -> str | None:
    """The team store: env ``KPI_STORE`` when it is a ``postgresql://`` URL, else None."""
    env = os.environ.get("KPI_STORE")
    return env if env and is_url(env) else None


def upload_dir_for(store_path: str | os.PathLike[str]) -> Path:
    """The uploads folder of the store at ``store_path``: ``uploads`` beside the store file."""
    return Path(store_path).parent / "uploads"


# What DuckDB says when the store file is not a (whole) database: never a lock or a setting.
_DAMAGE_WORDS = (
    "not a valid DuckDB database file",
    "Corrupt database file",
    "Could not read enough bytes",
)


def _fingerprint(path: Path) -> tuple[int, int, int]:
    info = path.stat()
    return info.st_ino, info.st_size, info.st_mtime_ns


def set_aside(damaged: StoreDamagedError) -> Path | None:
    """Rename a damaged store file (and its write-ahead log) to
    ``<name>.damaged-<UTC time><suffix>`` beside it, so a new store can start at its path;
    return the new name. None when the file is no longer the one found damaged (someone
    already set it aside and a new store was started): nothing is moved then."""
    path = Path(damaged.path)
    try:
        if _fingerprint(path) != damaged.fingerprint:
            return None
    except FileNotFoundError:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.stem}.damaged-{stamp}{path.suffix}")
    number = 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.stem}.damaged-{stamp}-{number}{path.suffix}")
    path.rename(target)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        wal.rename(target.with_name(target.name + ".wal"))
    return target
