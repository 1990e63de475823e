"""Measure and filter expressions of KPI definitions, compiled to safe DuckDB SQL.

The user's text is parsed by DuckDB's own parser (``json_serialize_sql``, the statement passed
as a bound parameter on a private sandboxed connection). The parse tree is walked with an
allow-list of node types, and SQL is re-emitted from the tree: column names are resolved
against the table's columns and quoted through ``quote_ident``, strings and dates become ``?``
parameters, numbers are re-written from their parsed value, operators and function names come
from fixed maps. No part of the user's text is ever pasted into SQL.

Measure language: ``sum avg count count_distinct min max median`` over columns (``count(*)``
too), ``+ - * /``, unary minus, numeric literals, parentheses. Division is
``a / NULLIF(b, 0)`` so a zero denominator gives NULL. Every column sits inside an aggregate.

Filter language: ``= <> != < <= > >=``, ``and or not``, ``in (...)``, ``not in``,
``between``, ``is [not] null``, ``like``/``ilike``, string, number, boolean and date
(``DATE '2024-01-01'``) literals, arithmetic, parentheses. No aggregates.
"""

from kpi_logic.expressions.compiler import aggregate_of, compile_filter, compile_measure
from kpi_logic.expressions.emit import Compiled
from kpi_logic.expressions.parse import MEASURE_FUNCTIONS, parse_with, resolve_column

__all__ = [
    "MEASURE_FUNCTIONS",
    "Compiled",
    "aggregate_of",
    "compile_filter",
    "compile_measure",
    "parse_with",
    "resolve_column",
]
