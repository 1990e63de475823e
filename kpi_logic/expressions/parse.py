"""Reading a measure or filter: the text checks, DuckDB's parser and the single-expression
checks, column names resolved with suggestions, and what to write instead of another tool's
column names.

The user's text is parsed by DuckDB's own parser (``json_serialize_sql``, the statement passed
as a bound parameter on a private sandboxed connection); :mod:`kpi_logic.expressions.emit`
writes SQL from the tree this returns.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Sequence
from typing import Any

import duckdb

from kpi_logic.errors import ExpressionError
from kpi_logic.sql import sandboxed_connection

MAX_LENGTH = 2000  # characters of one expression

# name in the measure language -> SQL function emitted
MEASURE_FUNCTIONS: dict[str, str] = {
    "sum": "sum",
    "avg": "avg",
    "count": "count",
    "count_distinct": "count",  # emitted as count(DISTINCT ...)
    "min": "min",
    "max": "max",
    "median": "median",
}

_ARITHMETIC = {"+", "-", "*", "/"}
_CAST_TYPES = {t: t for t in ("DATE", "TIMESTAMP", "DOUBLE", "INTEGER", "BIGINT")}
_SELECT_DEFAULTS: dict[str, Any] = {
    "modifiers": [],
    "cte_map": {"map": []},
    "where_clause": None,
    "group_expressions": [],
    "group_sets": [],
    "aggregate_handling": "STANDARD_HANDLING",
    "having": None,
    "sample": None,
    "qualify": None,
}
_CLAUSE_NAMES = {
    "modifiers": "DISTINCT, ORDER BY and LIMIT are",
    "cte_map": "WITH is",
    "where_clause": "WHERE is",
    "group_expressions": "GROUP BY is",
    "group_sets": "GROUP BY is",
    "aggregate_handling": "GROUP BY is",
    "having": "HAVING is",
    "sample": "USING SAMPLE is",
    "qualify": "QUALIFY is",
}
_NODE_MESSAGES = {
    "SUBQUERY": "subqueries are not allowed",
    "WINDOW": "window functions (OVER ...) are not allowed",
    "LAMBDA": "lambda functions are not allowed",
    "PARAMETER": "parameters such as $1 or ? are not allowed",
    "CASE": "CASE expressions are not allowed",
    "COLLATE": "COLLATE is not allowed",
}


def resolve_column(name: str, columns: Sequence[str]) -> str:
    """The table column ``name`` refers to: exact match first, then ignoring case and
    surrounding spaces. Unknown or ambiguous names raise ``ExpressionError`` with suggestions.
    """
    if not isinstance(name, str):
        raise ExpressionError(f"column name must be text, not {type(name).__name__}")
    columns = list(columns)
    if name in columns:
        return name
    key = name.strip().casefold()
    found = [c for c in columns if c.strip().casefold() == key]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        listed = ", ".join(f'"{c}"' for c in found)
        raise ExpressionError(f'column "{name}" is ambiguous: it matches {listed}')
    raise ExpressionError(f'unknown column "{name}"' + _suggestion(name, columns))


def _suggestion(name: str, columns: Sequence[str]) -> str:
    import difflib  # only for an unknown column

    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(column.strip().casefold(), column)
    close = difflib.get_close_matches(name.strip().casefold(), list(by_key), n=3, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(f'"{by_key[c]}"' for c in close) + "?"


def _parse(text: str, what: str) -> dict:
    """The single expression of ``text`` as DuckDB's parse tree (a JSON object)."""
    _check_text(text, what)
    tree = _serialize("SELECT " + text)
    if tree.get("error"):
        message = str(tree.get("error_message") or "syntax error").strip().splitlines()
        raise ExpressionError(f"could not parse the {what}: {message[0] if message else ''}")
    return _single_expression(tree, what)


def _check_text(text: object, what: str) -> None:
    """Refuse what is no expression text before parsing: not text, empty, too long, NUL,
    ``;`` or comments."""
    if not isinstance(text, str):
        raise ExpressionError(f"the {what} must be text, not {type(text).__name__}")
    if not text.strip():
        raise ExpressionError(f"the {what} is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the {what} is too long ({len(text):,} characters; at most {MAX_LENGTH:,})"
        )
    if "\x00" in text:
        raise ExpressionError(f"the {what} contains a NUL character")
    _scan(text)


# [Sales] as Excel tables, Power BI and Tableau write a column (not an index such as x[1])
_BRACKETED = re.compile(r"(?<![\w\"\]])\[\s*([A-Za-z_][^\[\]]*?)\s*\]")
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")  # string literals, quoted names
_AGGREGATE_OF_WORDS = re.compile(  # count_distinct(Order ID): a name with spaces, unquoted
    r"\b(" + "|".join(MEASURE_FUNCTIONS) + r")\s*\(\s*([A-Za-z_]\w*(?:\s+\w+)+)\s*\)",
    re.IGNORECASE,
)


def _spelling_hint(text: str) -> tuple[str, str] | None:
    """``(what is wrong, the text written instead)`` for column names in another tool's
    style: ``[Sales]`` (Excel tables, Power BI, Tableau) or names with spaces left unquoted.

    >>> _spelling_hint('SUM([Sales]) / SUM([Order Qty])')
    ('write column names in double quotes, not brackets', 'sum("Sales") / sum("Order Qty")')
    >>> _spelling_hint("count_distinct(Order ID)")
    ('put column names with spaces in double quotes', 'count_distinct("Order ID")')
    """
    if _BRACKETED.search(_QUOTED.sub("", text)):
        fixed = _BRACKETED.sub(lambda m: _quoted(m.group(1)), text)
        fixed = re.sub(r"\b([A-Za-z_]+)\s*\(", lambda m: m.group(1).lower() + "(", fixed)
        return "write column names in double quotes, not brackets", fixed
    if _AGGREGATE_OF_WORDS.search(_QUOTED.sub("", text)):
        fixed = _AGGREGATE_OF_WORDS.sub(lambda m: f"{m.group(1)}({_quoted(m.group(2))})", text)
        if fixed != text:  # the words were not all outside quotes: nothing to advise
            return "put column names with spaces in double quotes", fixed
    return None


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _single_expression(tree: dict, what: str) -> dict:
    """The one expression of a parsed ``SELECT <text>``; every other clause is refused."""
    statements = tree.get("statements") or []
    if len(statements) != 1:
        raise ExpressionError("only one expression is allowed")
    statement = statements[0]
    if statement.get("named_param_map"):
        raise ExpressionError(_NODE_MESSAGES["PARAMETER"])
    node = statement.get("node") or {}
    if node.get("type") == "SET_OPERATION_NODE":
        raise ExpressionError("UNION, INTERSECT and EXCEPT are not allowed")
    if node.get("type") != "SELECT_NODE":
        raise ExpressionError(f"only an expression is allowed in a {what}")
    source = node.get("from_table") or {}
    if source.get("type") != "EMPTY":
        if source.get("type") == "TABLE_FUNCTION":
            raise ExpressionError("FROM and table functions are not allowed")
        raise ExpressionError("FROM is not allowed")
    for key, default in _SELECT_DEFAULTS.items():
        if node.get(key, default) != default:
            raise ExpressionError(f"{_CLAUSE_NAMES[key]} not allowed")
    expected = {"type", "select_list", "from_table", *_SELECT_DEFAULTS}
    if set(node) - expected:
        raise ExpressionError(f"unsupported syntax in the {what}")
    items = node.get("select_list") or []
    if len(items) != 1:
        raise ExpressionError(
            f"only one expression is allowed (found {len(items)} separated by commas)"
        )
    return items[0]


def _scan(text: str) -> None:
    """Refuse ``;`` and comments outside quotes, for a clear message (the tree checks stand
    on their own: this only names the problem better than a parse error would)."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"":
            end = i + 1
            while end < n:
                if text[end] == ch:
                    if end + 1 < n and text[end + 1] == ch:
                        end += 2
                        continue
                    break
                end += 1
            i = end + 1
            continue
        if ch == ";":
            raise ExpressionError("only one expression is allowed (found ';')")
        if text.startswith(("--", "/*"), i):
            raise ExpressionError("comments (-- or /* */) are not allowed")
        i += 1


def _serialize(statement: str) -> dict:
    try:
        return json.loads(_parse_tree_json(statement))
    except (ValueError, RecursionError) as err:
        raise ExpressionError("the expression is nested too deeply") from err


class _Parser:
    """DuckDB's parser and literal casts on one connection, one thread at a time: a sandboxed
    in-memory connection opened on first use, or a cursor of the connection given to ``use``
    first (the command line has one already; a second costs as much as parsing a KPI file)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None

    def use(self, con: duckdb.DuckDBPyConnection) -> None:
        """Parse on a cursor of ``con`` from now on; no-op once there is a connection."""
        with self._lock:
            if self._con is None:
                self._con = con.cursor()

    def run(self, sql: str, params: list[object]) -> list[tuple[Any, ...]]:
        """The rows of one statement (only ``json_serialize_sql`` and casts of literals)."""
        with self._lock:
            if self._con is None:
                self._con = sandboxed_connection()
            return self._con.execute(sql, params).fetchall()


_PARSER = _Parser()


@functools.lru_cache(maxsize=1024)
def _parse_tree_json(statement: str) -> str:
    """DuckDB's parse tree of ``statement`` as JSON text (the statement is a bound value)."""
    try:
        rows = _PARSER.run("SELECT json_serialize_sql(?)", [statement])
    except duckdb.Error as err:
        first = (str(err).strip().splitlines() or ["syntax error"])[0]
        raise ExpressionError(f"could not parse: {first}") from err
    return rows[0][0]


def parse_with(con: duckdb.DuckDBPyConnection) -> None:
    """Parse on a cursor of ``con`` (opened sandboxed) instead of opening a connection of the
    module's own; no-op once there is one."""
    _PARSER.use(con)


@functools.lru_cache(maxsize=1024)
def _check_date(value: str, type_name: str) -> None:
    """Refuse a date or timestamp literal DuckDB can't read."""
    try:
        _PARSER.run(f"SELECT CAST(? AS {_CAST_TYPES[type_name]})", [value])
    except duckdb.Error as err:
        raise ExpressionError(f"'{value}' is not a valid {type_name.lower()}") from err


def _is_condition(node: dict) -> bool:
    """False for a root that can't be true or false: a number, a text, arithmetic."""
    if node.get("class") == "CONSTANT":
        return (node.get("literal") or {}).get("kind") in ("BOOLEAN", "NULL_LITERAL")
    if node.get("class") == "FUNCTION" and node.get("is_operator"):
        return node.get("function_name") not in _ARITHMETIC
    return True
