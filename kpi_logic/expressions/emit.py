"""SQL from a parsed measure or filter: the parse tree is walked with an allow-list of node
types, and SQL is re-emitted from the tree: column names are resolved against the table's
columns and quoted through ``quote_ident``, strings and dates become ``?`` parameters, numbers
are re-written from their parsed value, operators and function names come from fixed maps. No
part of the user's text is ever pasted into SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from kpi_logic.errors import ExpressionError
from kpi_logic.expressions.parse import (
    _ARITHMETIC,
    _CAST_TYPES,
    _NODE_MESSAGES,
    MEASURE_FUNCTIONS,
    _check_date,
    resolve_column,
)
from kpi_logic.sql import quote_ident

MAX_DEPTH = 64  # nesting of the parse tree

_ALLOWED_LIST = ", ".join(MEASURE_FUNCTIONS)
_LIKE = {"~~": "LIKE", "!~~": "NOT LIKE", "~~*": "ILIKE", "!~~*": "NOT ILIKE"}
_COMPARISONS = {
    "COMPARE_EQUAL": "=",
    "COMPARE_NOTEQUAL": "<>",
    "COMPARE_LESSTHAN": "<",
    "COMPARE_LESSTHANOREQUALTO": "<=",
    "COMPARE_GREATERTHAN": ">",
    "COMPARE_GREATERTHANOREQUALTO": ">=",
}
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Compiled:
    """SQL fragment with ``?`` placeholders, its parameters, and the columns it reads."""

    sql: str
    params: tuple
    columns: tuple[str, ...]


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
