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

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import duckdb

from kpi_logic.errors import ExpressionError
from kpi_logic.sql import quote_ident, sandboxed_connection

MAX_LENGTH = 2000  # characters of one expression
MAX_DEPTH = 64  # nesting of the parse tree

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
_ALLOWED_LIST = ", ".join(MEASURE_FUNCTIONS)

_ARITHMETIC = {"+", "-", "*", "/"}
_LIKE = {"~~": "LIKE", "!~~": "NOT LIKE", "~~*": "ILIKE", "!~~*": "NOT ILIKE"}
_COMPARISONS = {
    "COMPARE_EQUAL": "=",
    "COMPARE_NOTEQUAL": "<>",
    "COMPARE_LESSTHAN": "<",
    "COMPARE_LESSTHANOREQUALTO": "<=",
    "COMPARE_GREATERTHAN": ">",
    "COMPARE_GREATERTHANOREQUALTO": ">=",
}
_CAST_TYPES = {t: t for t in ("DATE", "TIMESTAMP", "DOUBLE", "INTEGER", "BIGINT")}
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
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

_lock = threading.Lock()
_connection: duckdb.DuckDBPyConnection | None = None


@dataclass(frozen=True)
class Compiled:
    """SQL fragment with ``?`` placeholders, its parameters, and the columns it reads."""

    sql: str
    params: tuple
    columns: tuple[str, ...]


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


def compile_measure(text: str, columns: Sequence[str]) -> Compiled:
    """Compile a measure (aggregates over columns combined with ``+ - * /``)."""
    with _hinted(text):
        node = _parse(text, "measure")
        emitter = _Emitter(list(columns), "measure")
        sql = emitter.measure(node, 0)
    if not emitter.aggregates:
        raise ExpressionError('a measure needs an aggregate such as sum("Sales") or count(*)')
    return emitter.result(sql)


def compile_filter(text: str, columns: Sequence[str]) -> Compiled:
    """Compile a row filter (a condition over columns, without aggregates)."""
    with _hinted(text):
        node = _parse(text, "filter")
        if not _is_condition(node):
            raise ExpressionError("a filter must be a condition such as \"Region\" = 'West'")
        emitter = _Emitter(list(columns), "filter")
        return emitter.result(emitter.value(node, 0))


@contextmanager
def _hinted(text: str) -> Iterator[None]:
    """Replace a refusal by what to write instead when ``text`` names columns in another
    tool's style (``[Sales]``, or a name with spaces left unquoted)."""
    try:
        yield
    except ExpressionError as err:
        hint = _spelling_hint(text) if isinstance(text, str) else None
        if hint is None:
            raise
        raise ExpressionError(hint) from err


def aggregate_of(text: str, columns: Sequence[str]) -> tuple[str, str] | None:
    """``(function, column)`` when the whole measure is one aggregate over one column
    (``("count", "*")`` for ``count(*)``), else None (also for an invalid measure)."""
    try:
        compile_measure(text, columns)
        node = _parse(text, "measure")
    except ExpressionError:
        return None
    if node["class"] != "FUNCTION" or node.get("is_operator"):
        return None
    name = node["function_name"].lower()
    args = [a["expression"] for a in node["arguments"]]
    if name == "count_star" and not args:
        return ("count", "*")
    if len(args) != 1:
        return None
    arg = args[0]
    if arg["class"] == "STAR" and name == "count" and not node.get("distinct"):
        return ("count", "*")
    if arg["class"] != "COLUMN_REF":
        return None
    if name == "count" and node.get("distinct"):
        name = "count_distinct"
    column = resolve_column(arg["column_names"][0], columns)
    return (name, column) if name in MEASURE_FUNCTIONS else None


# --- parsing ---------------------------------------------------------------------------


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


def _spelling_hint(text: str) -> str | None:
    """What to write instead of column names in another tool's style: ``[Sales]`` (Excel
    tables, Power BI, Tableau) or names with spaces left unquoted.

    >>> _spelling_hint('SUM([Sales]) / SUM([Order Qty])')
    'write column names in double quotes, not brackets: sum("Sales") / sum("Order Qty")'
    >>> _spelling_hint("count_distinct(Order ID)")
    'put column names with spaces in double quotes: count_distinct("Order ID")'
    """
    if _BRACKETED.search(_QUOTED.sub("", text)):
        fixed = _BRACKETED.sub(lambda m: _quoted(m.group(1)), text)
        fixed = re.sub(r"\b([A-Za-z_]+)\s*\(", lambda m: m.group(1).lower() + "(", fixed)
        return f"write column names in double quotes, not brackets: {fixed}"
    if _AGGREGATE_OF_WORDS.search(_QUOTED.sub("", text)):
        fixed = _AGGREGATE_OF_WORDS.sub(lambda m: f"{m.group(1)}({_quoted(m.group(2))})", text)
        return f"put column names with spaces in double quotes: {fixed}"
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


@functools.lru_cache(maxsize=1024)
def _parse_tree_json(statement: str) -> str:
    """DuckDB's parse tree of ``statement`` as JSON text (the statement is a bound value)."""
    with _lock:
        try:
            rows = _parser().execute("SELECT json_serialize_sql(?)", [statement]).fetchall()
        except duckdb.Error as err:
            first = (str(err).strip().splitlines() or ["syntax error"])[0]
            raise ExpressionError(f"could not parse: {first}") from err
    return rows[0][0]


def _parser() -> duckdb.DuckDBPyConnection:
    """The module's private sandboxed in-memory connection; call with ``_lock`` held."""
    global _connection
    if _connection is None:
        _connection = sandboxed_connection()
    return _connection


def parse_with(con: duckdb.DuckDBPyConnection) -> None:
    """Parse on a cursor of ``con`` (opened sandboxed) instead of opening the module's own
    connection, which costs as much as the whole parsing of a KPI file; no-op once there is
    one. Parsing runs nothing but ``json_serialize_sql`` and literal casts."""
    global _connection
    with _lock:
        if _connection is None:
            _connection = con.cursor()


@functools.lru_cache(maxsize=1024)
def _check_date(value: str, type_name: str) -> None:
    """Refuse a date or timestamp literal DuckDB can't read."""
    with _lock:
        try:
            _parser().execute(f"SELECT CAST(? AS {_CAST_TYPES[type_name]})", [value]).fetchall()
        except duckdb.Error as err:
            raise ExpressionError(f"'{value}' is not a valid {type_name.lower()}") from err


def _is_condition(node: dict) -> bool:
    """False for a root that can't be true or false: a number, a text, arithmetic."""
    if node.get("class") == "CONSTANT":
        return (node.get("literal") or {}).get("kind") in ("BOOLEAN", "NULL_LITERAL")
    if node.get("class") == "FUNCTION" and node.get("is_operator"):
        return node.get("function_name") not in _ARITHMETIC
    return True


# --- emitting --------------------------------------------------------------------------


@dataclass
class _Emitter:
    """Walks one parse tree, allowing only listed nodes, and writes SQL left to right."""

    columns: list[str]
    kind: str  # "measure" or "filter"
    params: list = field(default_factory=list)
    used: dict[str, None] = field(default_factory=dict)
    aggregates: int = 0

    def result(self, sql: str) -> Compiled:
        return Compiled(sql, tuple(self.params), tuple(self.used))

    # measure level: aggregates, numbers and arithmetic; columns only inside aggregates
    def measure(self, node: dict, depth: int) -> str:
        self._common(node, depth)
        cls = node["class"]
        if cls == "FUNCTION" and node.get("is_operator"):
            return self._operator(node, depth, self.measure)
        if cls == "FUNCTION":
            return self._aggregate(node, depth)
        if cls == "CONSTANT":
            return self._constant(node, numbers_only=True)
        if cls == "CAST":
            type_name = self._cast_type(node)
            if type_name in ("DATE", "TIMESTAMP"):
                raise ExpressionError(f"CAST to {type_name} is not allowed in a measure")
            return f"CAST({self.measure(node['child'], depth + 1)} AS {type_name})"
        if cls == "COLUMN_REF":
            name = self._column_name(node)
            raise ExpressionError(
                f'column "{name}" must be inside an aggregate such as sum("{name}")'
            )
        raise self._refused(node)

    # row level: columns, constants, arithmetic, conditions; no aggregates
    def value(self, node: dict, depth: int) -> str:
        self._common(node, depth)
        cls, typ = node["class"], node["type"]
        if cls == "COLUMN_REF":
            return self._column(node)
        if cls == "CONSTANT":
            return self._constant(node, numbers_only=False)
        if cls == "CAST":
            return self._cast(node, depth)
        if cls == "FUNCTION":
            return self._row_function(node, depth)
        if cls == "COMPARISON" and typ in _COMPARISONS:
            left = self.value(node["left"], depth + 1)
            right = self.value(node["right"], depth + 1)
            return f"({left} {_COMPARISONS[typ]} {right})"
        if cls == "CONJUNCTION" and typ in ("CONJUNCTION_AND", "CONJUNCTION_OR"):
            parts = [self.value(c, depth + 1) for c in node["children"]]
            if len(parts) < 2:
                raise self._refused(node)
            joiner = " AND " if typ == "CONJUNCTION_AND" else " OR "
            return "(" + joiner.join(parts) + ")"
        if cls == "OPERATOR":
            return self._row_operator(node, depth)
        if cls == "BETWEEN" and typ == "COMPARE_BETWEEN":
            subject = self.value(node["input"], depth + 1)
            lower = self.value(node["lower"], depth + 1)
            upper = self.value(node["upper"], depth + 1)
            return f"({subject} BETWEEN {lower} AND {upper})"
        raise self._refused(node)

    def _row_function(self, node: dict, depth: int) -> str:
        """An operator (``+``, ``LIKE``...) at row level; aggregates and functions refused."""
        if node.get("is_operator") and node["function_name"] in _LIKE:
            left, right = self._args(node, depth, 2)
            return f"({left} {_LIKE[node['function_name']]} {right})"
        if node.get("is_operator"):
            return self._operator(node, depth, self.value)
        name = node["function_name"].lower()
        if name in MEASURE_FUNCTIONS or name == "count_star":
            if self.kind == "filter":
                raise ExpressionError(
                    f"aggregates such as {_display(name)}() are not allowed in a filter"
                )
            raise ExpressionError(f"{_display(name)}() cannot be nested inside another aggregate")
        raise self._refused(node)

    def _common(self, node: dict, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise ExpressionError(f"the {self.kind} is nested too deeply")
        if not isinstance(node, dict) or "class" not in node:
            raise ExpressionError(f"unsupported syntax in the {self.kind}")
        if node.get("alias"):
            raise ExpressionError(
                f'unexpected name "{node["alias"]}" after a value (aliases and hexadecimal '
                "numbers are not allowed)"
            )

    def _refused(self, node: dict) -> ExpressionError:
        cls, typ = node.get("class"), node.get("type")
        if cls in _NODE_MESSAGES:
            return ExpressionError(_NODE_MESSAGES[cls])
        if cls == "STAR":
            if node.get("columns"):
                return ExpressionError("COLUMNS(...) is not allowed")
            return ExpressionError('"*" is only allowed in count(*)')
        if cls == "FUNCTION" and node.get("is_operator"):
            return ExpressionError(f'operator "{node["function_name"]}" is not allowed')
        if cls == "FUNCTION":
            name = node["function_name"]
            if self.kind == "filter":
                return ExpressionError(f'function "{name}" is not allowed in a filter')
            return ExpressionError(f'function "{name}" is not allowed (allowed: {_ALLOWED_LIST})')
        if cls == "COMPARISON":
            return ExpressionError(f"comparison {typ} is not allowed (use = <> < <= > >=)")
        return ExpressionError(f"unsupported syntax in the {self.kind}: {typ or cls}")

    def _function_plain(self, node: dict) -> None:
        """Refuse qualified names, FILTER, ORDER BY, named arguments and the like."""
        name = node["function_name"]
        if node.get("schema") or node.get("catalog"):
            raise ExpressionError(
                f'qualified function names such as "{node["schema"]}.{name}" are not allowed'
            )
        path = (node.get("qualified_name") or {}).get("path", [name])
        if len(path) != 1:
            raise ExpressionError(
                f'qualified function names such as "{".".join(path)}" are not allowed'
            )
        if node.get("filter") is not None:
            raise ExpressionError(f"FILTER (WHERE ...) is not allowed in {name}()")
        if (node.get("order_bys") or {}).get("orders"):
            raise ExpressionError(f"ORDER BY is not allowed in {name}()")
        if node.get("export_state"):
            raise ExpressionError(f"EXPORT_STATE is not allowed in {name}()")
        for arg in node.get("arguments", []):
            if arg.get("name"):
                raise ExpressionError(f'named arguments ("{arg["name"]} :=") are not allowed')

    def _args(self, node: dict, depth: int, count: int | None = None) -> list[str]:
        self._function_plain(node)
        if node.get("distinct"):
            raise ExpressionError(f"DISTINCT is not allowed here: {node['function_name']}")
        args = [a["expression"] for a in node.get("arguments", [])]
        if count is not None and len(args) != count:
            raise self._refused(node)
        return [self.value(a, depth + 1) for a in args]

    def _operator(self, node: dict, depth: int, child) -> str:
        """Arithmetic ``+ - * /`` (unary ``-`` and ``+`` too); ``child`` emits operands."""
        op = node["function_name"]
        if op not in _ARITHMETIC:
            raise self._refused(node)
        self._function_plain(node)
        if node.get("distinct"):
            raise self._refused(node)
        args = [a["expression"] for a in node.get("arguments", [])]
        if len(args) == 1 and op in ("-", "+"):
            inner = child(args[0], depth + 1)
            return f"(-{inner})" if op == "-" else inner
        if len(args) != 2:
            raise self._refused(node)
        left, right = (child(a, depth + 1) for a in args)
        if op == "/":
            return f"({left} / NULLIF({right}, 0))"
        return f"({left} {op} {right})"

    def _aggregate(self, node: dict, depth: int) -> str:
        name = node["function_name"].lower()
        self._function_plain(node)
        args = [a["expression"] for a in node.get("arguments", [])]
        if name == "count_star" and not args:
            self.aggregates += 1
            return "count(*)"
        if name not in MEASURE_FUNCTIONS:
            raise self._refused(node)
        distinct = bool(node.get("distinct"))
        if distinct and name != "count":
            raise ExpressionError(
                f"DISTINCT is only allowed in count(DISTINCT ...) or count_distinct(...), "
                f"not in {name}()"
            )
        if name == "count_distinct":
            distinct = True
        if len(args) != 1:
            raise ExpressionError(
                f'{name}() takes exactly one column, e.g. {name}("Sales")'
                + (" or count(*)" if name == "count" else "")
            )
        arg = args[0]
        if arg["class"] == "STAR" and name == "count" and not distinct and not arg.get("columns"):
            self._plain_star(arg)
            self.aggregates += 1
            return "count(*)"
        inner = self.value(arg, depth + 1)
        if not self._mentions_column(arg):
            raise ExpressionError(f'{name}() needs a column, e.g. {name}("Sales")')
        self.aggregates += 1
        sql_name = MEASURE_FUNCTIONS[name]
        return f"{sql_name}(DISTINCT {inner})" if distinct else f"{sql_name}({inner})"

    def _plain_star(self, star: dict) -> None:
        for key in ("exclude_list", "replace_list", "qualified_exclude_list", "rename_list"):
            if star.get(key):
                raise ExpressionError("only a plain count(*) is allowed")
        if star.get("relation_name") or star.get("expr") is not None:
            raise ExpressionError("only a plain count(*) is allowed")

    def _mentions_column(self, node: Any) -> bool:
        if isinstance(node, dict):
            if node.get("class") == "COLUMN_REF":
                return True
            return any(self._mentions_column(v) for v in node.values())
        if isinstance(node, list):
            return any(self._mentions_column(v) for v in node)
        return False

    def _row_operator(self, node: dict, depth: int) -> str:
        typ = node["type"]
        children = node.get("children") or []
        if typ == "OPERATOR_NOT" and len(children) == 1:
            return f"(NOT {self.value(children[0], depth + 1)})"
        if typ in ("OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL") and len(children) == 1:
            suffix = "IS NULL" if typ == "OPERATOR_IS_NULL" else "IS NOT NULL"
            return f"({self.value(children[0], depth + 1)} {suffix})"
        if typ in ("COMPARE_IN", "COMPARE_NOT_IN") and len(children) >= 2:
            subject = self.value(children[0], depth + 1)
            options = ", ".join(self.value(c, depth + 1) for c in children[1:])
            keyword = "IN" if typ == "COMPARE_IN" else "NOT IN"
            return f"({subject} {keyword} ({options}))"
        if typ == "ARRAY_EXTRACT":
            raise ExpressionError("indexing with [...] is not allowed")
        raise self._refused(node)

    def _cast(self, node: dict, depth: int) -> str:
        type_name = self._cast_type(node)
        child = node["child"]
        if (
            child.get("class") == "CONSTANT"
            and child["literal"].get("kind") == "STRING"
            and type_name in ("DATE", "TIMESTAMP")
            and not child.get("alias")
        ):
            value = child["literal"]["text"]
            _check_date(value, type_name)
            self.params.append(value)
            return f"CAST(? AS {type_name})"
        return f"CAST({self.value(child, depth + 1)} AS {type_name})"

    def _cast_type(self, node: dict) -> str:
        """The allowed target type of a CAST node, from the fixed list."""
        target = node.get("type_expr") or {}
        type_name = str(target.get("type_name", "")).upper()
        if node.get("try_cast"):
            raise ExpressionError("TRY_CAST is not allowed")
        if (
            type_name not in _CAST_TYPES
            or target.get("children")
            or target.get("schema")
            or target.get("catalog")
        ):
            shown = type_name or "?"
            raise ExpressionError(
                f"CAST to {shown} is not allowed (allowed: {', '.join(_CAST_TYPES)})"
            )
        return _CAST_TYPES[type_name]

    def _column_name(self, node: dict) -> str:
        names = node.get("column_names") or []
        if len(names) != 1:
            dotted = ".".join(names)
            raise ExpressionError(
                f"qualified names such as {dotted} are not allowed; quote a column whose name "
                f'holds a dot: "{dotted}"'
            )
        return names[0]

    def _column(self, node: dict) -> str:
        name = self._column_name(node)
        try:
            column = resolve_column(name, self.columns)
        except ExpressionError as err:
            hint = ""
            if self.kind == "filter" and "did you mean" not in str(err):
                hint = f" (text values take single quotes: '{name}')"
            raise ExpressionError(f"{err}{hint}") from None
        self.used.setdefault(column, None)
        return quote_ident(column)

    def _constant(self, node: dict, *, numbers_only: bool) -> str:
        literal = node.get("literal") or {}
        kind, text = literal.get("kind"), literal.get("text", "")
        if kind in ("INTEGER", "NUMERIC"):
            return _number(text)
        if numbers_only:
            raise ExpressionError(
                f"only numbers can stand outside an aggregate in a measure, not {_shown(node)}"
            )
        if kind == "STRING":
            self.params.append(text)
            return "?"
        if kind == "BOOLEAN" and text.lower() in ("true", "false"):
            return "TRUE" if text.lower() == "true" else "FALSE"
        if kind == "NULL_LITERAL":
            return "NULL"
        raise ExpressionError(f"unsupported literal in the {self.kind}: {kind}")


def _number(text: str) -> str:
    """A numeric literal re-written from its value (never the user's characters)."""
    plain = text.replace("_", "")
    if not _NUMBER.fullmatch(plain):
        raise ExpressionError(f"unsupported number {text!r}")
    try:
        value = Decimal(plain)
    except InvalidOperation as err:
        raise ExpressionError(f"unsupported number {text!r}") from err
    if not value.is_finite():
        raise ExpressionError(f"unsupported number {text!r}")
    if re.fullmatch(r"-?\d+", plain) and len(plain) <= 18:
        out = str(int(plain))
    elif "e" not in plain.lower() and len(plain) <= 30:
        out = format(value, "f")
        if out.endswith("."):
            out += "0"
        if out.startswith("-."):
            out = "-0" + out[1:]
        elif out.startswith("."):
            out = "0" + out
    else:
        number = float(value)
        if number in (float("inf"), float("-inf")):
            raise ExpressionError(f"number {text!r} is too large")
        out = repr(number)
    if not re.fullmatch(r"-?\d+(\.\d+)?(e[-+]?\d+)?", out):
        raise ExpressionError(f"unsupported number {text!r}")
    return f"({out})" if out.startswith("-") else out


def _display(name: str) -> str:
    return "count" if name == "count_star" else name


def _shown(node: dict) -> str:
    literal = node.get("literal") or {}
    if literal.get("kind") == "STRING":
        return f"'{literal.get('text', '')}'"
    return str(literal.get("text") or literal.get("kind", "")).lower() or "this value"
