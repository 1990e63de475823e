"""The engine's records as pandas frames, so tests compare them with independent pandas
computations (the engine itself passes records, never frames)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from kpi_logic import compute, score
from kpi_logic.model import KPI

_KEYS = ("category", "period", "as_of")  # None where missing, as the engine's records have


def aggregate(con: Any, table: str, kpis: Sequence[KPI], **filters: Any) -> pd.DataFrame:
    """``compute.aggregate_records`` as a frame of ``compute.AGGREGATE_COLUMNS`` (None, not
    NaN, in ``category``, ``period`` and ``as_of``)."""
    records = compute.aggregate_records(con, table, kpis, **filters)
    frame = pd.DataFrame.from_records(records, columns=compute.AGGREGATE_COLUMNS)
    for key in _KEYS:  # None, not NaN, where missing
        frame[key] = pd.Series([r[key] for r in records], dtype=object)
    return frame


def scored(agg: pd.DataFrame, kpis: Sequence[KPI]) -> pd.DataFrame:
    """``score.score_records`` over the rows of ``agg``, as a frame on ``agg``'s index."""
    rows = [
        {k: None if k in _KEYS and pd.isna(v) else v for k, v in row.items()}
        for row in agg.to_dict("records")
    ]
    records = score.score_records(rows, kpis)
    columns = [*agg.columns, *(c for c in score.SCORED_COLUMNS if c not in agg.columns)]
    return pd.DataFrame.from_records(records, columns=columns, index=agg.index)
