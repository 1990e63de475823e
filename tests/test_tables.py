"""Reading a dataset table for display, against pandas over the same generated rows."""

from __future__ import annotations

import random
from datetime import date, timedelta

import duckdb
import pandas as pd

from kpi_logic import tables


def _table() -> tuple[duckdb.DuckDBPyConnection, pd.DataFrame]:
    rng = random.Random(7)
    frame = pd.DataFrame(
        {
            "Order Date": [
                date(2024, 1, 1) + timedelta(days=rng.randrange(400)) for _ in range(300)
            ],
            'Re"gion': [rng.choice(["West", "East", None, "Nord-Süd"]) for _ in range(300)],
            "n": range(300),
        }
    )
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute('CREATE TABLE "my table" AS SELECT * FROM frame')
    return con, frame


def test_preview_date_span_and_category_values_match_pandas() -> None:
    con, frame = _table()
    assert tables.preview(con, "my table", 7)["n"].tolist() == frame["n"].head(7).tolist()
    dates = frame["Order Date"]
    assert tables.date_span(con, "my table", "Order Date") == (min(dates), max(dates))
    expected = sorted(frame['Re"gion'].dropna().unique())
    assert tables.category_values(con, "my table", 'Re"gion') == expected
    assert tables.category_values(con, "my table", 'Re"gion', limit=2) == expected[:2]


def test_a_date_column_without_dates_has_no_span() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT NULL::DATE AS d FROM range(3)")
    assert tables.date_span(con, "t", "d") is None
