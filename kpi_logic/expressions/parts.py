"""Which measures split over categories into parts that add up, for
:mod:`kpi_logic.explain`: sums and counts joined by ``+`` and ``-`` (linear), and ratios of
two such parts (``avg(x)`` is ``sum(x) / count(x)``). Read from the measure's parse tree; the
numerator's and denominator's texts are cut from the measure at the division the tree has
at its root.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kpi_logic.errors import KPIExplorerError
from kpi_logic.expressions.compiler import aggregate_of
from kpi_logic.expressions.parse import _parse, resolve_column

_LINEAR_FUNCTIONS = ("sum", "count", "count_star")


def ratio_parts(measure: str, columns: Sequence[str]) -> tuple[str, str] | None:
    """``(numerator, denominator)`` measure texts of a ratio whose parts add up over
    categories (sums and counts, ``+`` and ``-``), ``avg(x)`` as ``sum(x) / count(x)``; None
    for any other measure.

    >>> ratio_parts('(sum("a") - sum("b")) / sum("a")', ["a", "b"])
    ('(sum("a") - sum("b"))', 'sum("a")')
    """
    simple = aggregate_of(measure, columns)
    if simple and simple[0] == "avg":
        column = '"' + simple[1].replace('"', '""') + '"'
        return f"sum({column})", f"count({column})"
    try:
        node = _parse(measure, "measure")
    except KPIExplorerError:
        return None
    if not (node["class"] == "FUNCTION" and node.get("is_operator")):
        return None
    if node["function_name"] != "/" or len(node["arguments"]) != 2:
        return None
    split = _split_last_division(measure.strip())
    if split is None:
        return None
    if not all(_linear(a["expression"]) for a in node["arguments"]):
        return None
    return split


def is_linear(measure: str) -> bool:
    """True when the measure's categories add up to its total: sums and counts joined by
    ``+`` and ``-`` (what ``compute.is_additive`` says of one aggregate, widened)."""
    try:
        return _linear(_parse(measure, "measure"))
    except KPIExplorerError:
        return False


def _linear(node: Mapping) -> bool:
    if node["class"] != "FUNCTION":
        return False
    name = str(node["function_name"]).lower()
    args = [a["expression"] for a in node["arguments"]]
    if node.get("is_operator"):
        return name in ("+", "-") and all(_linear(a) for a in args)
    return name in _LINEAR_FUNCTIONS and not node.get("distinct")


def _split_last_division(text: str) -> tuple[str, str] | None:
    """The texts left and right of the last ``/`` outside parentheses and quotes (the root
    of a division, as ``*`` and ``/`` bind left to right), outer parentheses removed."""
    while text.startswith("(") and _closing(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    depth, quote, cut = 0, "", -1
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote  # a doubled quote closes and reopens
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "/" and depth == 0:
            cut = i
    if cut < 0:
        return None
    return text[:cut].strip(), text[cut + 1 :].strip()


def _closing(text: str, start: int) -> int:
    """Index of the parenthesis closing the one at ``start`` (-1 when none)."""
    depth, quote = 0, ""
    for i in range(start, len(text)):
        char = text[i]
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def linear_terms(measure: str, columns: Sequence[str]) -> list[tuple[int, str]] | None:
    """The signed terms of a measure made of sums and counts joined by ``+`` and ``-`` (a
    leading minus too), each a one-aggregate measure text; None for any other measure.

    >>> linear_terms('sum("a") - count(*)', ["a"])
    [(1, 'sum("a")'), (-1, 'count(*)')]
    """
    try:
        return _terms(_parse(measure, "measure"), 1, columns)
    except KPIExplorerError:
        return None


def _terms(node: Mapping, sign: int, columns: Sequence[str]) -> list[tuple[int, str]] | None:
    if node["class"] != "FUNCTION" or node.get("distinct"):
        return None
    name = str(node["function_name"]).lower()
    args = [a["expression"] for a in node["arguments"]]
    if node.get("is_operator"):
        if name == "-" and len(args) == 1:
            return _terms(args[0], -sign, columns)
        if name not in ("+", "-") or len(args) != 2:
            return None
        left = _terms(args[0], sign, columns)
        right = _terms(args[1], sign if name == "+" else -sign, columns)
        return None if left is None or right is None else left + right
    star = not args or (len(args) == 1 and args[0]["class"] == "STAR")
    if name in ("count", "count_star") and star:
        return [(sign, "count(*)")]
    if name in ("sum", "count") and len(args) == 1 and args[0]["class"] == "COLUMN_REF":
        column = resolve_column(args[0]["column_names"][0], columns)
        return [(sign, f'{name}("{column.replace(chr(34), chr(34) * 2)}")')]
    return None
