"""KPIs computed where the data lives: the same KPI file over the same generated orders gives
the same figures in DuckDB (an upload), PostgreSQL and Spark, each against figures pandas
computes from the rows; user text stays text in every dialect; only aggregates travel."""

from __future__ import annotations

import math
from datetime import date

import psycopg
import pytest
import sqlglot
from sqlglot import exp

from kpi_logic import compute, dialects, engines
from kpi_logic.dialects import TableRef
from kpi_logic.kpi_file import kpis_from_yaml
from tests import engine_data as data

ROWS = data.orders()
FRAME = data.frame(ROWS)
PG_TABLE = TableRef("Orders 2024", "shop floor")

KPI_FILE = """
kpis:
  - {name: Sales, measure: sum("Sales"), time: Order Date, grain: month, by: Region}
  - {name: Margin, measure: sum("Profit") / sum("Sales"), time: Order Date, grain: quarter,
     by: Region}
  - {name: Orders, measure: count_distinct("Order ID"), time: Order Date, grain: week,
     by: Region, filter: "Channel <> 'Partner'"}
  - {name: Daily rows, measure: count(*), time: Order Date, grain: day,
     filter: "\\"Qty\\" is not null and \\"Region\\" in ('West', 'East')"}
  - {name: Median sale, measure: median("Sales"), time: Order Date, grain: year, by: Channel}
  - {name: Avg qty, measure: avg("Qty"), by: Region,
     filter: "\\"Order Date\\" between DATE '2024-01-01' and DATE '2024-02-29'"}
  - {name: Big online, measure: count(*), time: Shipped At, grain: month, by: Region,
     filter: "\\"Sales\\" > 100 and \\"Channel\\" like 'O%'"}
  - {name: Spread, measure: max("Sales") - min("Sales") + 0.5 * avg("Profit"), by: Channel}
  - {name: Total, measure: sum("Sales")}
"""
KPIS = kpis_from_yaml(KPI_FILE)
NO_PARTNER = lambda f: f["Channel"] != "Partner"  # noqa: E731
EXPECTED = {
    "Sales": data.expected(
        FRAME, lambda g: g["Sales"].sum(), time="Order Date", grain="month", by="Region"
    ),
    "Margin": data.expected(
        FRAME,
        lambda g: g["Profit"].sum() / g["Sales"].sum(),
        time="Order Date",
        grain="quarter",
        by="Region",
    ),
    "Orders": data.expected(
        FRAME,
        lambda g: g["Order ID"].nunique(),
        keep=NO_PARTNER,
        time="Order Date",
        grain="week",
        by="Region",
        count=True,
    ),
    "Daily rows": data.expected(
        FRAME,
        len,
        keep=lambda f: f["Qty"].notna() & f["Region"].isin(["West", "East"]),
        time="Order Date",
        grain="day",
        count=True,
    ),
    "Median sale": data.expected(
        FRAME, lambda g: g["Sales"].median(), time="Order Date", grain="year", by="Channel"
    ),
    "Avg qty": data.expected(
        FRAME,
        lambda g: g["Qty"].mean(),
        keep=lambda f: (
            (f["Order Date"] >= date(2024, 1, 1)) & (f["Order Date"] <= date(2024, 2, 29))
        ),
        by="Region",
    ),
    "Big online": data.expected(
        FRAME,
        len,
        keep=lambda f: (f["Sales"] > 100) & f["Channel"].str.startswith("O"),
        time="Shipped At",
        grain="month",
        by="Region",
        count=True,
    ),
    "Spread": data.expected(
        FRAME,
        lambda g: g["Sales"].max() - g["Sales"].min() + 0.5 * g["Profit"].mean(),
        by="Channel",
    ),
    "Total": data.expected(FRAME, lambda g: g["Sales"].sum()),
}


def _by_key(records: list[dict]) -> dict[str, dict[tuple, float]]:
    out: dict[str, dict[tuple, float]] = {}
    for r in records:
        out.setdefault(r["kpi"], {})[(r["category"], r["period"])] = r["actual"]
    return out


def _same(actual: dict[tuple, float], wanted: dict[tuple, float], kpi: str) -> None:
    assert set(actual) == set(wanted), f"{kpi}: cells differ"
    for key, value in wanted.items():
        got = actual[key]
        if math.isnan(value):
            assert math.isnan(got), f"{kpi} {key}: {got} instead of missing"
        else:
            assert got == pytest.approx(value, rel=1e-9, abs=1e-9), f"{kpi} {key}"


def _check_all(records: list[dict]) -> None:
    got = _by_key(records)
    assert list(got) == [k.name for k in KPIS]
    for kpi in KPIS:
        _same(got[kpi.name], EXPECTED[kpi.name], kpi.name)
    as_of = {r["kpi"]: r["as_of"] for r in records}
    assert as_of["Sales"] == data.last_day(FRAME, "Order Date")
    assert as_of["Orders"] == data.last_day(FRAME, "Order Date", NO_PARTNER)
    assert as_of["Total"] is None


def _check_sanity() -> None:
    """The generated rows hold what the comparison is about."""
    orders = EXPECTED["Orders"]
    assert ("North", None) not in {(c, None) for c, _ in orders}  # filtered out entirely
    assert any(c == "North" for c, _ in EXPECTED["Sales"])
    assert any(v == 0.0 for (c, _), v in orders.items() if c is not None)  # zero-filled
    assert any(c == data.BLANK for c, _ in EXPECTED["Sales"])
    assert len({p for _, p in EXPECTED["Daily rows"]}) > 60


def _postgres_engine(url: str) -> engines.Engine:
    data.load_postgres(url, ROWS, PG_TABLE.schema or "", PG_TABLE.name)
    return engines.connect(url)


def test_duckdb_upload_matches_pandas() -> None:
    _check_sanity()
    con = data.load_duckdb(ROWS)
    _check_all(compute.aggregate_records(con, "orders", KPIS))


def test_postgres_matches_pandas_and_duckdb(postgres_url: str) -> None:
    with _postgres_engine(postgres_url) as engine:
        records = engines.aggregate_records(engine, PG_TABLE, KPIS)
        _check_all(records)
        window = dict(start=date(2023, 12, 1), end=date(2024, 1, 31))
        picked = {"Region": ["West", data.BLANK, "O'Hara \\ Süd"]}
        narrowed = engines.aggregate_records(engine, PG_TABLE, KPIS, categories=picked, **window)
        as_one = engines.aggregate_records(engine, PG_TABLE, KPIS, whole=True, **window)
    con = data.load_duckdb(ROWS)
    in_duckdb = compute.aggregate_records(con, "orders", KPIS)
    assert [_cell(r) for r in records] == [_cell(r) for r in in_duckdb]  # same rows, order
    _same(_flat(records), _flat(in_duckdb), "PostgreSQL against DuckDB")
    same_in_duckdb = compute.aggregate_records(con, "orders", KPIS, categories=picked, **window)
    _same(_flat(narrowed), _flat(same_in_duckdb), "window and categories")
    one_period = compute.aggregate_records(con, "orders", KPIS, whole=True, **window)
    _same(_flat(as_one), _flat(one_period), "a time window as one period")
    assert {r["period"] for r in as_one} <= {window["start"], None}
    regions = {r["category"] for r in narrowed if r["kpi"] == "Sales"}
    assert regions == {None, "West", data.BLANK, "O'Hara \\ Süd"}


@pytest.mark.spark
def test_spark_matches_pandas_and_duckdb(spark_session) -> None:
    data.load_spark(spark_session, ROWS, "orders")
    engine = engines.SparkEngine(spark_session)
    assert engine.columns(TableRef("orders"))["Shipped At"] == "TIMESTAMP"
    records = engines.aggregate_records(engine, TableRef("orders"), KPIS)
    _check_all(records)
    window = dict(start=date(2023, 12, 1), end=date(2024, 1, 31))
    picked = {"Region": ["West", data.BLANK, "O'Hara \\ Süd"]}
    narrowed = engines.aggregate_records(
        engine, TableRef("orders"), KPIS, categories=picked, **window
    )
    con = data.load_duckdb(ROWS)
    same_in_duckdb = compute.aggregate_records(con, "orders", KPIS, categories=picked, **window)
    _same(_flat(narrowed), _flat(same_in_duckdb), "window and categories")
    _spark_sandbox(spark_session, engine)
    from kpi_logic import scorecard  # a time window (one period over the days) in Spark

    ytd = scorecard.WindowChoice(kind="ytd", as_of=date(2024, 2, 15))
    got = scorecard.scorecard(None, TableRef("orders"), KPIS, ytd, engine=engine)
    wanted = scorecard.scorecard(con, "orders", KPIS, ytd)
    assert [(r["kpi"], r["category"]) for r in got] == [(r["kpi"], r["category"]) for r in wanted]
    _same(
        {(r["kpi"], r["category"], None): float(r["actual"]) for r in got},
        {(r["kpi"], r["category"], None): float(r["actual"]) for r in wanted},
        "year to date in Spark",
    )


def _cell(record: dict) -> tuple:
    return record["kpi"], record["category"], record["period"], record["as_of"]


def _flat(records: list[dict]) -> dict[tuple, float]:
    return {(r["kpi"], r["category"], r["period"]): r["actual"] for r in records}


# ---- the sandbox in every dialect ---------------------------------------------------------

HOSTILE_VALUES = [
    "O'Hara",
    "back\\slash",
    "a\\' OR 1=1 --",
    "x' OR '1'='1",
    "$$ dollar $$",
    "%s and %(name)s",
    "semi; DROP TABLE t; --",
    'quote " and ` tick',
    "Süd\u00a0☃",
]
HOSTILE_NAMES = ['we"ird', "back`tick", "per%cent", "ques?tion", "semi;colon -- x", "dot.ted"]


def _literal(value: str) -> str:
    """``value`` written as a string in the KPI language (the user's own quoting)."""
    return "'" + value.replace("'", "''") + "'"


def _hostile_kpis() -> list:
    """One KPI per hostile value (rows equal to it, counted) and one per hostile column name
    (its sum), over a table whose ``Label`` column holds the values."""
    lines = ["kpis:"]
    for i, value in enumerate(HOSTILE_VALUES):
        condition = f'"Label" = {_literal(value)}'.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'  - {{name: v{i}, measure: count(*), filter: "{condition}"}}')
    for i, name in enumerate(HOSTILE_NAMES):
        quoted = '"' + name.replace('"', '""') + '"'
        measure = f"sum({quoted})".replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'  - {{name: c{i}, measure: "{measure}"}}')
    return kpis_from_yaml("\n".join(lines) + "\n")


HOSTILE_ROWS = [(v, *range(1, len(HOSTILE_NAMES) + 1)) for v in HOSTILE_VALUES for _ in range(2)]
HOSTILE_ROWS += [("plain", *[10] * len(HOSTILE_NAMES))] * 3


def _check_hostile(records: list[dict]) -> None:
    got = {r["kpi"]: r["actual"] for r in records}
    for i in range(len(HOSTILE_VALUES)):
        assert got[f"v{i}"] == 2.0, HOSTILE_VALUES[i]  # only the two rows holding the value
    for i in range(len(HOSTILE_NAMES)):
        assert got[f"c{i}"] == 2 * (i + 1) * len(HOSTILE_VALUES) + 30.0, HOSTILE_NAMES[i]


@pytest.mark.parametrize("dialect", dialects.DIALECTS)
def test_values_are_literals_and_names_quoted_in_every_dialect(dialect: str) -> None:
    """Written in each dialect (tested and on paper), every hostile value reads back as one
    string literal holding exactly that value, every hostile name as one quoted column, and
    the query as one SELECT."""
    columns = {"Label": "VARCHAR", **dict.fromkeys(HOSTILE_NAMES, "INTEGER")}
    for sql, params in compute.aggregate_sql("t", _hostile_kpis(), columns):
        rendered = dialects.render(sql, params, dialect, TableRef("t", "s"))
        statements = sqlglot.parse(rendered, read=dialect)
        assert len(statements) == 1
        assert isinstance(statements[0], exp.Select)
        tree = statements[0]
        strings = [s.this for s in tree.find_all(exp.Literal) if s.is_string]
        assert strings == [str(p) for p in params]
        names = {c.name for c in tree.find_all(exp.Column) if not c.name.startswith("__kpi")}
        if dialect == "bigquery":  # reads `dot.ted` as a path; its columns can't hold dots
            names = {".".join(p.name for p in c.parts) for c in tree.find_all(exp.Column)}
            names = {n for n in names if not n.startswith("__kpi")}
        wanted = {"Label"} if any(params) else set(HOSTILE_NAMES)
        assert names == wanted


def test_hostile_values_and_names_in_duckdb_and_postgres(postgres_url: str) -> None:
    kpis = _hostile_kpis()
    con = data.load_duckdb([])  # the parser's connection; the table below
    con.execute("CREATE TABLE hostile (" + ", ".join(['"Label" VARCHAR', *_int_columns()]) + ")")
    con.executemany(
        f"INSERT INTO hostile VALUES ({', '.join('?' * (len(HOSTILE_NAMES) + 1))})", HOSTILE_ROWS
    )
    _check_hostile(compute.aggregate_records(con, "hostile", kpis))
    with psycopg.connect(postgres_url, autocommit=True) as pg:
        pg.execute("CREATE TABLE hostile (" + ", ".join(['"Label" text', *_int_columns()]) + ")")
        with pg.cursor() as cur, cur.copy("COPY hostile FROM STDIN") as copy:
            for row in HOSTILE_ROWS:
                copy.write_row(row)
    with engines.connect(postgres_url) as engine:
        _check_hostile(engines.aggregate_records(engine, TableRef("hostile"), kpis))
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):  # the session writes nothing
            engine.run("CREATE TABLE written (x int)")


def _int_columns() -> list[str]:
    return ['"' + n.replace('"', '""') + '" INTEGER' for n in HOSTILE_NAMES]


def _spark_sandbox(session, engine: engines.SparkEngine) -> None:
    """Spark reads backslashes in strings as escapes: the values still come back exact."""
    from pyspark.sql.types import IntegerType, StringType, StructField, StructType

    schema = StructType(
        [StructField("Label", StringType())]
        + [StructField(n, IntegerType()) for n in HOSTILE_NAMES]
    )
    session.createDataFrame(HOSTILE_ROWS, schema).createOrReplaceTempView("hostile")
    _check_hostile(engines.aggregate_records(engine, TableRef("hostile"), _hostile_kpis()))


# ---- only aggregates travel ---------------------------------------------------------------


def test_postgres_returns_only_the_aggregate_rows(postgres_url: str) -> None:
    """PostgreSQL's own statistics (``pg_stat_statements``) show each KPI query returned one
    row per category x period (and per period for all categories where the total is not found
    from the categories: Margin's ratio, not Sales' sum), never the table's rows."""
    with psycopg.connect(postgres_url, autocommit=True) as pg:
        pg.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    with _postgres_engine(postgres_url) as engine:
        engine.run("SELECT pg_stat_statements_reset()")
        kpis = [k for k in KPIS if k.name in ("Sales", "Margin", "Total")]
        records = engines.aggregate_records(engine, PG_TABLE, kpis)
        _, stats = engine.run(
            "SELECT query, calls, rows FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query LIKE '%Orders 2024%' ORDER BY query"
        )
    # Sales and Margin differ in grain: two queries with by and time, and Total's
    sales = [key for key in EXPECTED["Sales"] if key[0] is not None]
    margin = EXPECTED["Margin"]
    wanted = sorted([len(sales), len(margin), 1])
    assert sorted(int(rows) for _, _, rows in stats) == wanted
    assert all(calls == 1 for _, calls, _ in stats)
    sales_totals = len(EXPECTED["Sales"]) - len(sales)  # added from the category rows
    assert sum(int(r) for _, _, r in stats) + sales_totals == len(records) < len(ROWS) // 3


# ---- time windows (the scorecard) --------------------------------------------------------


@pytest.mark.parametrize(
    "choice",
    [
        {"kind": "all"},
        {"kind": "ytd", "as_of": date(2024, 2, 15)},
        {"kind": "last-12"},
        {"kind": "range", "start": date(2023, 12, 10), "end": date(2024, 1, 20)},
    ],
    ids=lambda c: c["kind"],
)
def test_scorecard_windows_in_postgres_as_in_duckdb(postgres_url: str, choice: dict) -> None:
    """Each window's actuals and last year's, computed by PostgreSQL, are DuckDB's; the
    all-time window is also pandas' total."""
    from kpi_logic import scorecard

    picked = scorecard.WindowChoice(**choice)
    con = data.load_duckdb(ROWS)
    wanted = scorecard.scorecard(con, "orders", KPIS, picked)
    with _postgres_engine(postgres_url) as engine:
        got = scorecard.scorecard(None, PG_TABLE, KPIS, picked, engine=engine)
    assert [(r["kpi"], r["category"]) for r in got] == [(r["kpi"], r["category"]) for r in wanted]
    for mine, theirs in zip(got, wanted, strict=True):
        for key in ("actual", "last_year", "target"):
            a, b = float(mine[key]), float(theirs[key])
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9), key
        assert (mine["window_start"], mine["window_end"]) == (
            theirs["window_start"],
            theirs["window_end"],
        )
    if choice["kind"] == "all":
        total = next(r for r in got if r["kpi"] == "Sales" and r["category"] is None)
        assert total["actual"] == pytest.approx(FRAME["Sales"].sum(), rel=1e-9)


def test_a_dropped_postgres_connection_is_opened_again(postgres_url: str) -> None:
    """The app keeps one connection per secrets entry: a server that drops it (a restart, an
    idle timeout) costs one reconnect, not a broken dataset."""
    with _postgres_engine(postgres_url) as engine:
        kpis = [k for k in KPIS if k.name == "Total"]
        first = engines.aggregate_records(engine, PG_TABLE, kpis)
        _, rows = engine.run("SELECT pg_backend_pid()")
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [rows[0][0]])
        assert engines.aggregate_records(engine, PG_TABLE, kpis) == first
        assert [t.name for t in engine.tables()] == [PG_TABLE.name]


def test_profile_in_postgres_as_pandas_counts_it(postgres_url: str) -> None:
    with _postgres_engine(postgres_url) as engine:
        rows, profiled = engines.profile(engine, PG_TABLE)
        _, quick = engines.profile(engine, PG_TABLE, distinct=False)
    assert rows == len(ROWS)
    by_column = {p["column"]: p for p in profiled}
    for name in data.NAMES:
        assert by_column[name]["nulls"] == FRAME[name].isna().sum(), name
        assert by_column[name]["distinct"] == FRAME[name].nunique(), name
    assert by_column["Sales"]["min"] is not None
    assert float(by_column["Sales"]["max"]) == FRAME["Sales"].max()
    assert by_column["Order Date"]["max"] == str(FRAME["Order Date"].max())
    assert [p["distinct"] for p in quick] == [None] * len(data.NAMES)
    assert [p["nulls"] for p in quick] == [p["nulls"] for p in profiled]
