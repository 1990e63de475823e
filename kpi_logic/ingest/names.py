"""Header cells to clean, unique column names."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, time

_RESERVED_NAMES = ("rowid",)  # column names that clean_names renames like duplicates


def clean_names(headers: Sequence[object]) -> list[str]:
    """Header cells to unique column names: trimmed, control characters (NUL...) made spaces,
    blanks named ``column_N`` (1-based position), duplicates suffixed ``_2``, ``_3``...
    (case-insensitively, as DuckDB); so is ``rowid``, DuckDB's row number, which a column
    of that name would hide (rejected cells are located by it)."""
    names: list[str] = []
    used: set[str] = set(_RESERVED_NAMES)
    for i, header in enumerate(headers):
        text = "".join(" " if ch < " " or ch == "\x7f" else ch for ch in cell_text(header))
        base = " ".join(text.split()) or f"column_{i + 1}"
        name, n = base, 1
        while name.lower() in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name.lower())
        names.append(name)
    return names


def cell_text(value: object) -> str:
    """A spreadsheet cell as text: ``3.0`` -> ``3``, dates as ISO, None/NaN -> ``""``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()
