"""The engine's queries in other SQL engines' dialects, rendered by SQLGlot.

The engine writes each query once, in DuckDB's SQL (:func:`kpi_logic.compute.aggregate_sql`
and the profile query of :mod:`kpi_logic.engines`): every name in it is quoted by
``quote_ident`` and every value is a ``?`` parameter, so no user text is in it unparsed.
:func:`render` parses that SQL with SQLGlot's DuckDB dialect, puts each value in its
parameter's place as a literal SQLGlot writes (quoted and escaped as the target engine reads
strings), points the query at the engine's table, and writes the tree in the target dialect:
date truncation, grouping sets, distinct counts, medians, division and casts become that
engine's own functions and types. Nothing here writes per-dialect SQL by hand.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from kpi_logic.errors import KPIExplorerError

# engines tested against real servers here, and the ones documented on paper (docs/scaling.md)
TESTED = ("duckdb", "postgres", "spark")
DIALECTS = (*TESTED, "trino", "bigquery", "snowflake")

# SQLGlot's engine-neutral types -> DuckDB's names for them (what compute.check_kpi and
# ingest_types.logical_type read); anything else keeps the name SQLGlot gives it
_DUCKDB_TYPES: Mapping[object, str] = {  # keys: exp.DataType.Type
    exp.DataType.Type.BOOLEAN: "BOOLEAN",
    exp.DataType.Type.TINYINT: "TINYINT",
    exp.DataType.Type.SMALLINT: "SMALLINT",
    exp.DataType.Type.INT: "INTEGER",
    exp.DataType.Type.BIGINT: "BIGINT",
    exp.DataType.Type.FLOAT: "FLOAT",
    exp.DataType.Type.DOUBLE: "DOUBLE",
    exp.DataType.Type.DATE: "DATE",
    exp.DataType.Type.DATETIME: "TIMESTAMP",
    exp.DataType.Type.TIMESTAMP: "TIMESTAMP",
    exp.DataType.Type.TIMESTAMPNTZ: "TIMESTAMP",
    exp.DataType.Type.TIMESTAMPTZ: "TIMESTAMP WITH TIME ZONE",
    exp.DataType.Type.TIMESTAMPLTZ: "TIMESTAMP WITH TIME ZONE",
    exp.DataType.Type.TEXT: "VARCHAR",
    exp.DataType.Type.VARCHAR: "VARCHAR",
    exp.DataType.Type.CHAR: "VARCHAR",
    exp.DataType.Type.NCHAR: "VARCHAR",
    exp.DataType.Type.NVARCHAR: "VARCHAR",
}


@dataclass(frozen=True)
class TableRef:
    """A table or view of an engine: its name, and the schema (database) and catalog holding
    it when not the connection's default."""

    name: str
    schema: str | None = None
    catalog: str | None = None

    def __str__(self) -> str:
        return ".".join(p for p in (self.catalog, self.schema, self.name) if p)


def table_ref(text: str, dialect: str) -> TableRef:
    """``NAME``, ``SCHEMA.NAME`` or ``CATALOG.SCHEMA.NAME`` as ``dialect`` writes a table
    (quoted parts may hold dots); anything else is refused.

    >>> table_ref('sales."Orders 2024"', "postgres")
    TableRef(name='Orders 2024', schema='sales', catalog=None)
    """
    _check_dialect(dialect)
    try:
        table = exp.to_table(text, dialect=dialect)
    except (SqlglotError, ValueError) as err:
        raise KPIExplorerError(f"{text!r} is not a table name") from err
    parts = [table.args.get(k) for k in ("this", "db", "catalog")]
    extra = set(table.args) - {"this", "db", "catalog"}
    named = [p for p in parts if p is not None]
    if any(table.args[k] for k in extra) or not all(isinstance(p, exp.Identifier) for p in named):
        raise KPIExplorerError(f"{text!r} is not a table name")
    name, schema, catalog = (p.name if isinstance(p, exp.Identifier) else None for p in parts)
    if not name:
        raise KPIExplorerError(f"{text!r} is not a table name")
    return TableRef(name, schema, catalog)


def render(sql: str, params: Sequence[object], dialect: str, table: TableRef | None = None) -> str:
    """``sql`` (DuckDB SQL the engine wrote, values as ``?``) in ``dialect``, with each value
    of ``params`` as a literal in its parameter's place and the one table it reads replaced
    by ``table``.

    >>> render("SELECT sum(\\"Sales\\") FROM \\"t\\" WHERE \\"Region\\" = ?", ["O'Hara"],
    ...        "spark", TableRef("orders", "shop"))
    "SELECT SUM(`Sales`) FROM `shop`.`orders` WHERE `Region` = 'O\\\\'Hara'"
    """
    _check_dialect(dialect)
    tree = sqlglot.parse_one(sql, read="duckdb")
    _bind(tree, params)
    if table is not None:
        tables = list(tree.find_all(exp.Table))
        if len(tables) != 1:
            raise ValueError(f"expected a query of one table, found {len(tables)}")
        tables[0].replace(
            exp.table_(table.name, db=table.schema, catalog=table.catalog, quoted=True)
        )
    return tree.sql(dialect=dialect)


def duckdb_type(type_text: str, dialect: str) -> str:
    """An engine's column type (as ``dialect`` writes it) under DuckDB's name for it, which
    the engine's type rules read; an unknown type is kept as written (shown as text).

    >>> duckdb_type("timestamp without time zone", "postgres"), duckdb_type("int", "spark")
    ('TIMESTAMP', 'INTEGER')
    """
    try:
        built = exp.DataType.build(type_text, dialect=dialect, udt=True)
    except (SqlglotError, ValueError):
        return type_text.upper()
    if built.this in _DUCKDB_TYPES:
        return _DUCKDB_TYPES[built.this]
    if built.this == exp.DataType.Type.DECIMAL:
        return built.sql("duckdb").replace(", ", ",")
    return built.sql("duckdb")


def _check_dialect(dialect: str) -> None:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r} (known: {', '.join(DIALECTS)})")


def _bind(tree: exp.Expr, params: Sequence[object]) -> None:
    """Each ``?`` of ``tree`` replaced by its value as a literal, in the order of the text.

    SQLGlot walks the tree in the order it writes it; that this order is the text's is
    checked on every query: the placeholders are first tagged with numbered markers, the
    tree is written back as DuckDB SQL, and the markers must come out in order."""
    holders = [node for node in tree.walk(bfs=False) if isinstance(node, exp.Placeholder)]
    if len(holders) != len(params):
        raise ValueError(f"{len(holders)} parameters in the query, {len(params)} values")
    if not holders:
        return
    tag = f"kpi{secrets.token_hex(8)}_"
    marked = [holder.replace(exp.Literal.string(f"{tag}{i}")) for i, holder in enumerate(holders)]
    tokens = sqlglot.Dialect.get_or_raise("duckdb").tokenize(tree.sql("duckdb"))
    seen = [t.text for t in tokens if t.token_type == TokenType.STRING and t.text.startswith(tag)]
    if seen != [f"{tag}{i}" for i in range(len(holders))]:
        raise ValueError("the query's parameters could not be placed in order")
    for node, value in zip(marked, params, strict=True):
        node.replace(_literal(value))


def _literal(value: object) -> exp.Expr:
    """A value as a SQLGlot literal: text, a finite number, a boolean, a date or a time."""
    if value is None:
        return exp.null()
    if isinstance(value, bool | str | int):
        return exp.convert(value)
    if isinstance(value, float) and math.isfinite(value):
        return exp.convert(value)
    if isinstance(value, datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    raise ValueError(f"a parameter of type {type(value).__name__} can't be written as SQL")
