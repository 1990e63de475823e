"""SQL helpers shared by every module: identifier quoting and sandboxed connections."""

from __future__ import annotations

import os
from collections.abc import Sequence

import duckdb


def quote_ident(name: str) -> str:
    """Quote ``name`` as a DuckDB identifier: ``quote_ident('a"b') == '"a""b"'``."""
    if "\x00" in name:
        raise ValueError("identifier contains a NUL character")
    return '"' + name.replace('"', '""') + '"'


def sandboxed_connection(
    database: str = ":memory:",
    *,
    allowed_dirs: Sequence[str | os.PathLike[str]] = (),
    memory_limit: str | None = None,
    temp_dir: str | os.PathLike[str] | None = None,
    threads: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection that can read only ``allowed_dirs`` and cannot change settings.

    Memory limit and spill folder are set first, then file access is narrowed to the allowed
    folders and the configuration is locked, so no later query (or user text) can widen it.
    """
    con = duckdb.connect(database)
    settings = []
    if memory_limit:
        settings.append(f"SET memory_limit = {_text(memory_limit)}")
    if temp_dir:
        os.makedirs(temp_dir, exist_ok=True)
        settings.append(f"SET temp_directory = {_text(str(temp_dir))}")
    if threads:
        settings.append(f"SET threads = {int(threads)}")
    dirs = [os.path.abspath(d) for d in allowed_dirs]
    if temp_dir:
        dirs.append(os.path.abspath(temp_dir))
    if dirs:
        settings.append(f"SET allowed_directories = [{', '.join(map(_text, dirs))}]")
    settings += [
        "SET enable_progress_bar = false",  # it would print into piped output
        "SET enable_external_access = false",
        "SET lock_configuration = true",
    ]
    con.execute("; ".join(settings))  # one call: in order, and the lock last
    return con


def _text(value: str) -> str:
    """``value`` as an SQL string literal."""
    if "\x00" in value:
        raise ValueError("text contains a NUL character")
    return "'" + value.replace("'", "''") + "'"
