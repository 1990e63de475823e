"""The same generated orders in DuckDB, PostgreSQL and Spark, and independent expected KPI
figures computed from them with plain Python and pandas (never with the engine's code)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta

import duckdb
import pandas as pd
import pyarrow as pa

BLANK = "(blank)"
# name, DuckDB type, PostgreSQL type, Spark type
COLUMNS = [
    ("Order Date", "DATE", "date", "date"),
    ("Shipped At", "TIMESTAMP", "timestamp", "timestamp_ntz"),
    ("Region", "VARCHAR", "text", "string"),
    ("Channel", "VARCHAR", "text", "string"),
    ("Order ID", "VARCHAR", "text", "string"),
    ("Sales", "DOUBLE", "double precision", "double"),
    ("Profit", "DOUBLE", "numeric(12,2)", "double"),
    ("Qty", "INTEGER", "integer", "int"),
]
NAMES = [c[0] for c in COLUMNS]


def orders(count: int = 700, seed: int = 14) -> list[tuple]:
    """Orders over Nov 2023 - Mar 2024 (weeks, months, quarters and years cross): blank
    regions, a region only sold through partners, empty quantities, repeated order ids,
    negative profits, text that needs quoting."""
    rng = random.Random(seed)
    regions = ["West", "East", "South", "O'Hara \\ Süd", None]
    rows = []
    for _ in range(count):
        day = date(2023, 11, 15) + timedelta(days=rng.randrange(0, 116))
        channel = rng.choice(["Online", "Store", "Partner"])
        region = rng.choices(regions, weights=[6, 6, 6, 1, 2])[0]  # O'Hara: rare (weeks without)
        if channel == "Partner" and rng.random() < 0.3:
            region = "North"  # North sells only through partners
        shipped = (
            None
            if rng.random() < 0.1
            else datetime.combine(day, datetime.min.time())
            + timedelta(hours=rng.randrange(0, 96), minutes=rng.randrange(60))
        )
        sales = round(rng.uniform(1, 400), 2)
        rows.append(
            (
                day,
                shipped,
                region,
                channel,
                f"O-{rng.randrange(count // 2)}",
                sales,
                round(sales * rng.uniform(-0.3, 0.5), 2),
                None if rng.random() < 0.15 else rng.randrange(1, 20),
            )
        )
    return rows


def frame(rows: Sequence[tuple]) -> pd.DataFrame:
    """The rows as pandas holds them, for the expected figures."""
    return pd.DataFrame(rows, columns=NAMES)


def load_duckdb(rows: Sequence[tuple], table: str = "orders") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the rows in ``table``, typed as ``COLUMNS`` says."""
    types = {"DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us"), "VARCHAR": pa.string()}
    types |= {"DOUBLE": pa.float64(), "INTEGER": pa.int32()}
    schema = pa.schema([(name, types[duck]) for name, duck, *_ in COLUMNS])
    arrow = pa.Table.from_pylist([dict(zip(NAMES, r, strict=True)) for r in rows], schema)
    con = duckdb.connect()
    con.register("arrow_rows", arrow)
    con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM arrow_rows')
    con.unregister("arrow_rows")
    return con


def load_postgres(url: str, rows: Sequence[tuple], schema: str, table: str) -> None:
    """The rows in ``schema.table`` of the database at ``url`` (COPY)."""
    import psycopg
    from psycopg import sql

    name = sql.Identifier(schema, table)
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(pg)) for n, _, pg, _ in COLUMNS
    )
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        con.execute(sql.SQL("CREATE TABLE {} ({})").format(name, columns))
        with con.cursor() as cur, cur.copy(sql.SQL("COPY {} FROM STDIN").format(name)) as copy:
            for row in rows:
                copy.write_row(row)
        con.execute(sql.SQL("ANALYZE {}").format(name))


def load_spark(session, rows: Sequence[tuple], view: str) -> None:
    """The rows as the temporary view ``view`` of a Spark session (schema in Spark's DDL)."""
    schema = ", ".join(f"`{name}` {spark}" for name, _, _, spark in COLUMNS)
    session.createDataFrame(list(rows), schema).createOrReplaceTempView(view)


# ---- expected figures, computed independently -------------------------------------------


def period_start(day: date, grain: str) -> date:
    """The first day of ``day``'s period (weeks start on Monday)."""
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def expected(
    data: pd.DataFrame,
    measure: Callable[[pd.DataFrame], float],
    *,
    keep: Callable[[pd.DataFrame], pd.Series] | None = None,
    time: str | None = None,
    grain: str = "month",
    by: str | None = None,
    count: bool = False,
) -> dict[tuple[object, object], float]:
    """(category, period) -> value: category None for the all-categories rows (and without
    ``by``), period None without ``time`` and for rows without a date. A count measure of a
    category seen in some period and a dated period seen in any category counts 0 where there
    are no rows."""
    rows = data[keep(data)] if keep is not None else data
    rows = rows.assign(
        _period=[period_start(_day(v), grain) if _day(v) else None for v in rows[time]]
        if time
        else None,
        _category=rows[by].fillna(BLANK).astype(str) if by else None,
    )
    out: dict[tuple[object, object], float] = {}
    for key, part in _parts(rows, time, by):
        out[key] = _number(measure(part))
    if count and by and time:
        categories = {c for c, _ in out if c is not None}
        periods = {p for _, p in out if p is not None}  # rows without a date: not filled
        for c in categories:
            for p in periods:
                out.setdefault((c, p), 0.0)
    return out


def last_day(data: pd.DataFrame, time: str, keep=None) -> date | None:
    """The last date with data (the ``as_of`` of a KPI over ``time``)."""
    rows = data[keep(data)] if keep is not None else data
    days = [_day(v) for v in rows[time] if _day(v)]
    return max(days, default=None)


def _parts(rows: pd.DataFrame, time: str | None, by: str | None) -> Iterator:
    periods = [None] if not time else sorted(set(rows["_period"]), key=lambda p: (p is not None, p))
    for period in periods:
        dated = rows["_period"].isna() if period is None else rows["_period"] == period
        in_period = rows[dated] if time else rows
        if len(in_period) or not time:
            yield (None, period), in_period
        if by:
            for category in sorted(set(in_period["_category"])):
                yield (category, period), in_period[in_period["_category"] == category]


def _day(value: object) -> date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, datetime | pd.Timestamp):
        return value.date()
    return value  # type: ignore[return-value]


def _number(value: object) -> float:
    number = float(value) if value is not None else math.nan
    return number if math.isfinite(number) else math.nan
