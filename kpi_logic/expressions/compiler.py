"""Measures and filters compiled: the text parsed (:mod:`kpi_logic.expressions.parse`), SQL
emitted from the tree (:mod:`kpi_logic.expressions.emit`), refusals replaced by what to write
instead when the text names columns in another tool's style."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from kpi_logic.errors import ExpressionError
from kpi_logic.expressions.emit import Compiled, _Emitter
from kpi_logic.expressions.parse import (
    MEASURE_FUNCTIONS,
    _is_condition,
    _parse,
    _spelling_hint,
    resolve_column,
)


def compile_measure(text: str, columns: Sequence[str]) -> Compiled:
    """Compile a measure (aggregates over columns combined with ``+ - * /``)."""
    with _hinted(text, lambda fixed: compile_measure(fixed, columns)):
        node = _parse(text, "measure")
        emitter = _Emitter(list(columns), "measure")
        sql = emitter.measure(node, 0)
    if not emitter.aggregates:
        raise ExpressionError('a measure needs an aggregate such as sum("Sales") or count(*)')
    return emitter.result(sql)


def compile_filter(text: str, columns: Sequence[str]) -> Compiled:
    """Compile a row filter (a condition over columns, without aggregates)."""
    with _hinted(text, lambda fixed: compile_filter(fixed, columns)):
        node = _parse(text, "filter")
        if not _is_condition(node):
            raise ExpressionError("a filter must be a condition such as \"Region\" = 'West'")
        emitter = _Emitter(list(columns), "filter")
        return emitter.result(emitter.value(node, 0))


@contextmanager
def _hinted(text: str, check: Callable[[str], object]) -> Iterator[None]:
    """Replace a refusal by what to write instead when ``text`` names columns in another
    tool's style (``[Sales]``, or a name with spaces left unquoted), and only when that
    advice itself passes ``check``: otherwise the refusal names a real problem (``;``, a
    subquery...) and stands."""
    try:
        yield
    except ExpressionError as err:
        hint = _spelling_hint(text) if isinstance(text, str) else None
        if hint is None:
            raise
        reason, fixed = hint
        try:
            check(fixed)
        except ExpressionError:
            raise err from None
        raise ExpressionError(f"{reason}: {fixed}") from err


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
