"""What ``load_file`` returns: the table's columns, rows, rejects and warnings."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ColumnInfo:
    """One loaded column: clean ``name``, header as written, logical ``dtype`` and how."""

    name: str
    source_name: str
    dtype: str
    detail: str = ""


@dataclass
class LoadResult:
    """What ``load_file`` made: the table, its row count, columns, rejected cells, warnings.

    For a view (``materialize=False``) ``rows`` is None and there are no rejects (nothing was
    read but the sample); warnings then come from type detection only.

    ``reject_rows`` lists the first ``MAX_REJECTS_LISTED`` rejects by row as dicts with the
    columns of ``rejects``, the frame built from them on first use.
    """

    table: str
    rows: int | None  # None for a view (``load_file(..., materialize=False)``): not counted
    columns: list[ColumnInfo]
    reject_rows: list[dict[str, object]]
    warnings: list[str] = field(default_factory=list)

    @functools.cached_property
    def rejects(self) -> pd.DataFrame:
        """``row`` (int64), ``column``, ``value``, ``reason`` per rejected row or cell."""
        import pandas as pd

        listed = self.reject_rows
        return pd.DataFrame(
            {
                "row": pd.Series([r["row"] for r in listed], dtype="int64"),
                **{
                    k: pd.Series([r[k] for r in listed], dtype=object)
                    for k in ("column", "value", "reason")
                },
            }
        )
