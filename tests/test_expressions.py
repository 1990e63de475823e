"""kpi_logic.expressions against a real DuckDB table and independent pandas computations.

The table has awkward column names (spaces, quotes, mixed case, SQL keywords) and values
that look like SQL; accepted measures and filters are run the way compute.py runs them
(measure in an outer SELECT over the quoted columns, filter in the inner WHERE) and compared
with the same numbers computed in pandas. Hostile inputs must be refused with
``ExpressionError``.
"""

from __future__ import annotations

import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kpi_logic import expressions
from kpi_logic.errors import ExpressionError
from kpi_logic.expressions import (
    MEASURE_FUNCTIONS,
    aggregate_of,
    compile_filter,
    compile_measure,
    resolve_column,
)
from kpi_logic.sql import quote_ident, sandboxed_connection

QUOTED = 'Quote "q"'
DROP = "drop table x"
CHANNELS = ["Select; DROP TABLE t", "Web", "O'Brien", "-- not a comment"]


def make_frame(rows: int = 400, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = rng.choice(["East", "West", "North", "Wales"], rows).astype(object)
    region[rng.random(rows) < 0.1] = None
    return pd.DataFrame(
        {
            "Sales": rng.gamma(2.0, 60.0, rows).round(2),
            "Profit": rng.normal(5, 30, rows).round(2),  # negatives too
            "Order Date": [
                date(2024, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 180, rows)
            ],  # fmt: skip
            "Region": region,
            "Select": rng.choice(CHANNELS, rows),
            "Union": rng.integers(1, 8, rows),
            "Copy": rng.choice([0.0, 1.5, 3.0], rows),
            DROP: rng.integers(0, 6, rows),
            QUOTED: rng.uniform(0, 10, rows).round(3),
            "mixedCase": rng.integers(0, 50, rows),
            "Flag": rng.random(rows) < 0.3,
            "Zero": np.zeros(rows),
        }
    )


ROOT = Path(__file__).resolve().parent.parent
FRAME = make_frame()
COLUMNS = list(FRAME.columns)


@pytest.fixture(scope="module")
def con():
    connection = sandboxed_connection()
    connection.register("frame_view", FRAME)
    connection.execute('CREATE TABLE "t" AS SELECT * FROM frame_view')
    connection.unregister("frame_view")
    yield connection
    connection.close()


def run(con, measure: str, where: str = "true") -> object:
    """The measure over the rows the filter keeps, as compute.py nests it."""
    m = compile_measure(measure, COLUMNS)
    f = compile_filter(where, COLUMNS)
    inner = ", ".join(quote_ident(c) for c in m.columns) or "1 AS one"
    sql = f"SELECT {m.sql} FROM (SELECT {inner} FROM t WHERE {f.sql})"
    return con.execute(sql, [*m.params, *f.params]).fetchone()[0]


def close(got: object, expected: float) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return got is None
    return got is not None and float(got) == pytest.approx(float(expected), rel=1e-9, abs=1e-9)


d = FRAME
MEASURES = [
    ('sum("Sales")', lambda d: d["Sales"].sum()),
    ('sum("Profit") / sum("Sales")', lambda d: d["Profit"].sum() / d["Sales"].sum()),
    ('avg("Sales")', lambda d: d["Sales"].mean()),
    ("count(*)", len),
    ('count("Region")', lambda d: d["Region"].count()),
    ('count_distinct("Region")', lambda d: d["Region"].nunique()),
    ('COUNT(DISTINCT "Select")', lambda d: d["Select"].nunique()),
    ('median("Profit")', lambda d: d["Profit"].median()),
    ('max("Sales") - min("Profit")', lambda d: d["Sales"].max() - d["Profit"].min()),
    ('-sum("Profit") * 2.5 + 1000', lambda d: -d["Profit"].sum() * 2.5 + 1000),
    ('sum(" sales ") - SUM(profit)', lambda d: d["Sales"].sum() - d["Profit"].sum()),
    ('sum("Quote ""q""") / count(*)', lambda d: d[QUOTED].sum() / len(d)),
    ('avg("Union") + max("drop table x")', lambda d: d["Union"].mean() + d[DROP].max()),
    (
        'sum("Sales" * "Union") / sum("Union")',
        lambda d: (d["Sales"] * d["Union"]).sum() / d["Union"].sum(),
    ),
    (
        '(sum("Sales") - sum("Profit")) / -(4)',
        lambda d: (d["Sales"].sum() - d["Profit"].sum()) / -4,
    ),
    ("1.5 * count(MIXEDCASE) - 0.25", lambda d: 1.5 * d["mixedCase"].count() - 0.25),
    ('max("Copy") - min(copy) + 1_000 - 1e2', lambda d: d["Copy"].max() - d["Copy"].min() + 900),
    ('sum("Profit") / sum("Zero")', lambda d: None),  # zero denominator: NULL, not inf
    ('sum("Profit") / (sum("Sales") - sum("Sales"))', lambda d: None),
    ('sum("Profit" / "Copy")', lambda d: (d["Profit"] / d["Copy"].replace(0, np.nan)).sum()),
]


@pytest.mark.parametrize(("measure", "expected"), MEASURES, ids=[m for m, _ in MEASURES])
def test_measures_match_pandas(con, measure: str, expected) -> None:
    assert close(run(con, measure), expected(FRAME))


def col(name: str) -> pd.Series:
    return FRAME[name]


FILTERS = [
    ("\"Region\" = 'West'", col("Region") == "West"),
    ("Region <> 'West'", col("Region").notna() & (col("Region") != "West")),
    ("region != 'West'", col("Region").notna() & (col("Region") != "West")),
    ('"Sales" > 100 and "Profit" < 0', (col("Sales") > 100) & (col("Profit") < 0)),
    ('"Sales" >= 100 or not ("Profit" <= 0)', (col("Sales") >= 100) | ~(col("Profit") <= 0)),
    ("Region in ('East', 'West')", col("Region").isin(["East", "West"])),
    (
        "Region not in ('East', 'West')",
        col("Region").notna() & ~col("Region").isin(["East", "West"]),
    ),
    ('"Sales" between 50 and 150.5', col("Sales").between(50, 150.5)),
    ('"Sales" not between 50 and 150', ~col("Sales").between(50, 150)),
    ("Region is null", col("Region").isna()),
    ("Region IS NOT NULL", col("Region").notna()),
    ("\"Order Date\" >= DATE '2024-03-01'", col("Order Date") >= date(2024, 3, 1)),
    (
        "\" order date \" between '2024-02-01' and '2024-02-29'",
        col("Order Date").between(date(2024, 2, 1), date(2024, 2, 29)),
    ),
    ("\"Select\" = 'Select; DROP TABLE t'", col("Select") == "Select; DROP TABLE t"),
    ("\"Select\" in ('O''Brien', '-- not a comment')", col("Select").isin(CHANNELS[2:])),
    ('"Flag"', col("Flag")),
    ("not Flag and true", ~col("Flag")),
    ('"Flag" = false', ~col("Flag")),
    ('"Profit" < -10.5', col("Profit") < -10.5),
    ('-"Profit" > 10', -col("Profit") > 10),
    ("Region like 'W%'", col("Region").str.startswith("W", na=False)),
    ("Region ilike 'w%' and region not like '%s'", col("Region").isin(["West"])),
    ('"Union" * 2 + 1 > 10', col("Union") * 2 + 1 > 10),
    ('"Sales" / "Zero" > 1', pd.Series(False, index=FRAME.index)),
    ('"drop table x" > 3 and "Copy" is not null', col(DROP) > 3),
    ('"Quote ""q""" < 2.5 or "mixedCase" = 7', (col(QUOTED) < 2.5) | (col("mixedCase") == 7)),
]


@pytest.mark.parametrize(("where", "mask"), FILTERS, ids=[f for f, _ in FILTERS])
def test_filters_match_pandas(con, where: str, mask: pd.Series) -> None:
    kept = FRAME[mask.fillna(False).astype(bool)]
    assert run(con, "count(*)", where) == len(kept)
    assert close(run(con, 'sum("Sales")', where), kept["Sales"].sum() if len(kept) else None)


def test_ratio_of_sums_is_not_an_average_of_ratios(con) -> None:
    where = "Region in ('East', 'West')"
    got = run(con, 'sum("Profit") / sum("Sales")', where)
    kept = FRAME[FRAME["Region"].isin(["East", "West"])]
    assert got == pytest.approx(kept["Profit"].sum() / kept["Sales"].sum())
    assert abs(got - (kept["Profit"] / kept["Sales"]).mean()) > 0.01
    per_region = kept.groupby("Region").apply(
        lambda g: g["Profit"].sum() / g["Sales"].sum(), include_groups=False
    )
    assert abs(got - per_region.mean()) > 1e-6


def test_compiled_shape() -> None:
    m = compile_measure('sum("Profit") / sum(" sales ") + sum(profit)', COLUMNS)
    assert m.sql == '((sum("Profit") / NULLIF(sum("Sales"), 0)) + sum("Profit"))'
    assert m.columns == ("Profit", "Sales")
    assert m.params == ()
    f = compile_filter(
        "\"Select\" = 'Select; DROP TABLE t' and \"Order Date\" < '2024-05-01'", COLUMNS
    )
    assert f.params == ("Select; DROP TABLE t", "2024-05-01")
    assert "DROP TABLE" not in f.sql
    assert "2024" not in f.sql
    assert f.columns == ("Select", "Order Date")
    dated = compile_filter("\"Order Date\" >= DATE '2024-01-01'", COLUMNS)
    assert dated.sql == '("Order Date" >= CAST(? AS DATE))'
    assert dated.params == ("2024-01-01",)
    assert compile_measure('count_distinct("Region")', COLUMNS).sql == 'count(DISTINCT "Region")'
    assert compile_measure("count(*)", COLUMNS) == expressions.Compiled("count(*)", (), ())
    assert set(MEASURE_FUNCTIONS) == {
        "sum", "avg", "count", "count_distinct", "min", "max", "median"
    }  # fmt: skip


def test_keyword_look_alikes_are_accepted(con) -> None:
    for name in ("Select", "Union", "Copy", DROP, QUOTED):
        assert compile_measure(f"max({quote_ident(name)})", COLUMNS).columns == (name,)
    odd = ["a;b", "x -- y", "/* c */", "Drop"]
    compiled = compile_measure('sum("a;b") + sum("x -- y") + sum("/* c */") + sum(drop)', odd)
    assert compiled.columns == tuple(odd)
    assert run(con, "count(*)", "\"Select\" = 'Select; DROP TABLE t' or \"Select\" = 'Web'") > 0
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == len(FRAME)  # still there


MEASURE = "measure"
FILTER = "filter"
HOSTILE = [
    (MEASURE, "(SELECT 1)", "subqueries"),
    (MEASURE, 'sum("Sales") + (select max("Profit") from t)', "subqueries"),
    (MEASURE, "exists(select 1)", "subqueries"),
    (FILTER, '"Region" in (select "Region" from t)', "subqueries"),
    (FILTER, "exists(select * from t)", "subqueries"),
    (MEASURE, "read_csv('/etc/passwd')", 'function "read_csv" is not allowed (allowed: sum, avg'),
    (MEASURE, "sum(\"Sales\") from read_parquet('a.parquet')", "FROM"),
    (MEASURE, 'sum("Sales") FROM t', "FROM"),
    (MEASURE, "'/etc/passwd'", "only numbers"),
    (MEASURE, 'sum("Sales"); DROP TABLE t', "only one expression"),
    (FILTER, "1=1; DROP TABLE t", "only one expression"),
    (MEASURE, 'sum("Sales"), count(*)', "only one expression"),
    (MEASURE, "SET enable_external_access = true", "could not parse"),
    (MEASURE, "PRAGMA version", ""),
    (MEASURE, "COPY t TO 'x.csv'", "could not parse"),
    (MEASURE, "ATTACH 'x.db'", "CAST to ATTACH"),
    (MEASURE, "sum(getenv('HOME'))", 'function "getenv"'),
    (FILTER, "current_setting('threads') = 1", 'function "current_setting"'),
    (MEASURE, "query('SELECT 1')", 'function "query"'),
    (MEASURE, 'sum("Sales") over ()', "window"),
    (MEASURE, 'sum("Sales") filter (where "Profit" > 0)', "FILTER"),
    (MEASURE, "columns(*)", "COLUMNS"),
    (MEASURE, "sum(columns('S.*'))", "COLUMNS"),
    (MEASURE, "*", '"*"'),
    (MEASURE, "sum(*)", "exactly one column"),
    (MEASURE, "count(DISTINCT *)", '"*"'),
    (MEASURE, "sum(x -> x + 1)", "lambda"),
    (MEASURE, "sum(list_transform([1], lambda x: x + 1))", 'function "list_transform"'),
    (MEASURE, "sum($1)", "parameters"),
    (MEASURE, "sum(?)", "parameters"),
    (FILTER, '"Region" = $name', "parameters"),
    (MEASURE, 'md5("Region")', 'function "md5"'),
    (MEASURE, 'sum(t."Sales")', "qualified"),
    (MEASURE, 'main.sum("Sales")', "qualified"),
    (MEASURE, 'sum(sum("Sales"))', "nested"),
    (MEASURE, '"Sales"', 'column "Sales" must be inside an aggregate such as sum("Sales")'),
    (MEASURE, 'sum("Sales") + "Profit"', 'column "Profit" must be inside an aggregate'),
    (FILTER, 'sum("Sales") > 10', "aggregates such as sum() are not allowed in a filter"),
    (FILTER, "count(*) > 1", "aggregates such as count() are not allowed in a filter"),
    (MEASURE, 'sum("Sales"', "could not parse"),
    (MEASURE, 'sum("Sales"))', "could not parse"),
    (MEASURE, "", "empty"),
    (FILTER, "   ", "empty"),
    (MEASURE, 'sum("Sales")' + " + 1" * 600, "too long"),
    (MEASURE, 'sum("Sales") -- ; DROP TABLE t', "comments"),
    (MEASURE, 'sum("Sales") /* x */', "comments"),
    (FILTER, "\"Region\" = 'x' --'", "comments"),
    (MEASURE, 'sum("Sales") union select 1', "UNION"),
    (MEASURE, 'sum(CAST("Sales" AS BLOB))', "CAST to BLOB"),
    (FILTER, "CAST(\"Region\" AS VARCHAR) = 'x'", "CAST to VARCHAR"),
    (MEASURE, "sum(\"Region\" || 'x')", 'operator "||"'),
    (MEASURE, 'sum("Sales") % 2', 'operator "%"'),
    (MEASURE, 'sum("Sales") AS total', '"total"'),
    (MEASURE, 'sum("Sales") + 0x10', '"x10"'),
    (MEASURE, 'sum(DISTINCT "Sales")', "DISTINCT"),
    (MEASURE, 'DISTINCT sum("Sales")', "DISTINCT"),
    (MEASURE, 'count("Sales", "Profit")', "exactly one column"),
    (MEASURE, "sum(1)", "needs a column"),
    (MEASURE, "1 + 2", "needs an aggregate"),
    (MEASURE, 'CASE WHEN true THEN sum("Sales") END', "CASE"),
    (MEASURE, 'sum("Sales") ORDER BY 1', "ORDER BY"),
    (MEASURE, 'sum("Sales") LIMIT 1', "LIMIT"),
    (MEASURE, 'sum("Sales") WHERE true', "WHERE"),
    (MEASURE, 'sum("Sales") GROUP BY "Region"', "GROUP BY"),
    (MEASURE, 'WITH a AS (SELECT 1) SELECT sum("Sales")', "could not parse"),
    (MEASURE, 'sum("Sales" ORDER BY "Profit")', "ORDER BY"),
    (MEASURE, 'first("Sales")', 'function "first"'),
    (MEASURE, 'sum("Nope")', 'unknown column "Nope"'),
    (FILTER, "\"Region\" IN (SELECT 'x') OR true", "subqueries"),
    (FILTER, '"Region" = ANY(["a"])', "subqueries"),
    (FILTER, "'abc'", "must be a condition"),
    (FILTER, '"Sales" + 1', "must be a condition"),
    (FILTER, '"Region" = "West"', "text values take single quotes"),
    (FILTER, "\"Region\" SIMILAR TO 'W.*'", 'function "regexp_full_match"'),
    (FILTER, "\"Order Date\" > DATE '2024-13-45'", "not a valid date"),
    (FILTER, "\"Region\" IS DISTINCT FROM 'x'", "not allowed"),
    (FILTER, "\"Region\" COLLATE nocase = 'x'", "COLLATE"),
    (FILTER, "\"Region\"[1] = 'W'", "indexing"),
    (FILTER, "struct_pack(a := 1) IS NULL", "not allowed"),
    (FILTER, '"Order Date" > now() - INTERVAL 1 DAY', "not allowed"),
    (FILTER, 'TRY_CAST("Region" AS DATE) IS NULL', "TRY_CAST is not allowed"),
    (MEASURE, "sum(" * 700 + '"Sales"' + ")" * 700, ""),
]


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    HOSTILE,
    ids=[f"{k}:{t[:40]}" for k, t, _ in HOSTILE],
)
def test_hostile_inputs_are_refused(kind: str, text: str, message: str) -> None:
    compile_ = compile_measure if kind == MEASURE else compile_filter
    with pytest.raises(ExpressionError) as info:
        compile_(text, COLUMNS)
    text_of_error = str(info.value)
    assert message in text_of_error
    assert "\n" not in text_of_error
    assert text_of_error


def test_non_text_is_refused() -> None:
    with pytest.raises(ExpressionError, match="must be text"):
        compile_measure(None, COLUMNS)  # type: ignore[arg-type]
    with pytest.raises(ExpressionError, match="NUL"):
        compile_filter("\"Region\" = 'a\x00'", COLUMNS)


def test_resolve_column() -> None:
    columns = ["Revenue", "Region", "Order Date", "a", "A", " Day "]
    assert resolve_column("Revenue", columns) == "Revenue"
    assert resolve_column(" order date ", columns) == "Order Date"
    assert resolve_column("REGION", columns) == "Region"
    assert resolve_column("day", columns) == " Day "
    assert resolve_column("a", columns) == "a"  # exact match first
    assert resolve_column("A", columns) == "A"
    with pytest.raises(ExpressionError) as info:
        resolve_column("Revenu", columns)
    assert str(info.value) == 'unknown column "Revenu"; did you mean "Revenue"?'
    with pytest.raises(ExpressionError, match='ambiguous: it matches "a", "A"'):
        resolve_column(" a ", columns)
    with pytest.raises(ExpressionError, match='^unknown column "zzz"$'):
        resolve_column("zzz", columns)


def test_errors_suggest_columns() -> None:
    with pytest.raises(ExpressionError, match='unknown column "Sale"; did you mean "Sales"'):
        compile_measure('sum("Sale")', COLUMNS)
    with pytest.raises(ExpressionError, match='unknown column "Regoin"; did you mean "Region"'):
        compile_filter("Regoin = 'West'", COLUMNS)


@pytest.mark.parametrize(
    ("measure", "expected"),
    [
        ('sum("Sales")', ("sum", "Sales")),
        ("SUM( sales )", ("sum", "Sales")),
        ('avg("Union")', ("avg", "Union")),
        ("count(*)", ("count", "*")),
        ('count("Region")', ("count", "Region")),
        ('count_distinct("Region")', ("count_distinct", "Region")),
        ('count(DISTINCT "Select")', ("count_distinct", "Select")),
        ('median("drop table x")', ("median", DROP)),
        ('min("Profit")', ("min", "Profit")),
        ('max("Quote ""q""")', ("max", QUOTED)),
        ('(sum("Sales"))', ("sum", "Sales")),
        ('sum("Profit") / sum("Sales")', None),
        ('sum("Sales") * 2', None),
        ('-sum("Sales")', None),
        ('sum("Sales" + "Profit")', None),
        ('sum("Nope")', None),
        ("read_csv('x')", None),
    ],
)
def test_aggregate_of(measure: str, expected) -> None:
    assert aggregate_of(measure, COLUMNS) == expected


def test_parsing_is_thread_safe() -> None:
    texts = [f'sum("Sales") * {i} + count(*)' for i in range(60)]
    with ThreadPoolExecutor(8) as pool:
        compiled = list(pool.map(lambda t: compile_measure(t, COLUMNS), texts))
    assert [c.sql for c in compiled] == [f'((sum("Sales") * {i}) + count(*))' for i in range(60)]


def test_parse_with_parses_on_the_given_connection() -> None:
    """The command line parses on its own connection (a cursor of it) instead of opening a
    second one; fresh process, as the module keeps its parser once it has one."""
    script = (
        "from kpi_logic import expressions\n"
        "from kpi_logic.sql import sandboxed_connection\n"
        "con = sandboxed_connection()\n"
        "con.execute('CREATE TABLE mine AS SELECT 1 AS x')\n"
        "expressions.parse_with(con)\n"
        "expressions.parse_with(sandboxed_connection())  # no-op: there is one\n"
        "print(expressions.compile_measure('sum(\"x\") / 2', ['x']).sql)\n"
        "print(expressions.parse._PARSER.run('SELECT x FROM mine', []))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ['(sum("x") / NULLIF(2, 0))', "[(1,)]"]


@pytest.mark.parametrize(
    ("typed", "advice"),
    [
        ("SUM([Sales])", 'sum("Sales")'),
        ("Sum([Profit]) / SUM([Sales])", 'sum("Profit") / sum("Sales")'),
        ("count_distinct(Order ID)", 'count_distinct("Order ID")'),
        ('COUNT_DISTINCT( Order ID ) + sum("Sales")', 'COUNT_DISTINCT("Order ID") + sum("Sales")'),
    ],
)
def test_other_tools_column_styles_get_what_to_write_instead(typed: str, advice: str) -> None:
    columns = [*COLUMNS, "Order ID"]
    with pytest.raises(ExpressionError) as info:
        compile_measure(typed, columns)
    message = str(info.value)
    assert "list_value" not in message
    assert "syntax error" not in message
    assert message.endswith(": " + advice)
    assert compile_measure(advice, columns).columns  # the advice itself compiles


def test_a_real_problem_is_not_hidden_behind_column_advice() -> None:
    """Advice on [Sales] is given only when following it would work: a statement after ';'
    is still refused as such."""
    with pytest.raises(ExpressionError, match="only one expression"):
        compile_measure("SUM([Revenue]); DROP TABLE kpi_sets", [*COLUMNS, "Revenue"])
