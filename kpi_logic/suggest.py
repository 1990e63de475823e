"""Starter KPIs from a table's column names: templates by KPI type, matched by keywords.

The date column is the first DATE/TIMESTAMP column; the category column ("by") is a text
column with few distinct values (a name like region, segment or team first). Targets are
left for the user to set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import duckdb

from kpi_logic import compute, expressions
from kpi_logic.errors import KPIExplorerError
from kpi_logic.ingest_types import logical_type
from kpi_logic.model import KPI, validate
from kpi_logic.sql import quote_ident

MAX_CATEGORIES = 30  # a "by" column with more distinct values makes an unreadable chart
_CATEGORY_WORDS = ("region", "segment", "category", "team", "department", "channel", "store")


@dataclass(frozen=True)
class Template:
    """A KPI whose measure is ``agg(numerator)`` or ``agg(numerator) / denom_agg(denominator)``.

    ``numerator``/``denominator`` are keyword lists; a column matches when its lower-cased
    name contains one of them. ``minus`` (keywords) makes a margin:
    ``(sum(numerator) - sum(minus)) / sum(numerator)``.
    """

    name: str
    type: str
    unit: str
    numerator: tuple[str, ...]
    agg: str = "sum"
    denominator: tuple[str, ...] = ()
    denominator_agg: str = "sum"
    minus: tuple[str, ...] = ()
    direction: str = "higher"
    description: str = ""


_REVENUE = ("revenue", "sales", "turnover", "income")
_COST = ("cost", "expense", "spend")
TEMPLATES = (
    Template("Revenue", "financial", "currency", _REVENUE, description="Total revenue (sales)"),
    Template(
        "Profit margin",
        "financial",
        "percent",
        ("profit",),
        denominator=_REVENUE,
        description="Profit as a share of revenue",
    ),
    Template(
        "Profit margin",
        "financial",
        "percent",
        _REVENUE,
        minus=_COST,
        description="(Revenue - cost) as a share of revenue",
    ),
    Template(
        "Conversion rate",
        "sales",
        "percent",
        ("conversion", "converted", "won", "deals"),
        denominator=("lead", "prospect", "opportunit"),
        description="Conversions per lead",
    ),
    Template(
        "Customer acquisition cost",
        "marketing",
        "currency",
        ("marketing", "ad spend", "advertising", "campaign"),
        denominator=("new customer", "new_customer", "acquired", "signup", "sign up"),
        direction="lower",
        description="Marketing spend per new customer",
    ),
    Template(
        "Satisfaction score",
        "customer",
        "number",
        ("satisfaction", "csat", "nps", "rating"),
        agg="avg",
        description="Average satisfaction score",
    ),
    Template(
        "Staff turnover",
        "employee",
        "percent",
        ("leaver", "attrition", "resignation", "departure", "terminat"),
        denominator=("headcount", "employees", "staff"),
        denominator_agg="avg",
        direction="lower",
        description="Leavers per average headcount",
    ),
    Template(
        "Defect rate",
        "quality & compliance",
        "percent",
        ("defect", "faulty", "reject", "return"),
        denominator=("produced", "units", "inspected", "quantity", "output"),
        direction="lower",
        description="Defective units per unit produced",
    ),
    Template(
        "On-time rate",
        "operational",
        "percent",
        ("on time", "on_time", "ontime", "on-time"),
        denominator=("deliver", "shipment", "orders"),
        description="Deliveries on time per delivery",
    ),
    Template(
        "Resolution time",
        "customer",
        "number",
        ("resolution", "handle time", "handling time", "response time"),
        agg="avg",
        direction="lower",
        description="Average time to resolve",
    ),
    Template("Costs", "financial", "currency", _COST, direction="lower", description="Total cost"),
)


def suggest_kpis(con: duckdb.DuckDBPyConnection, table: str) -> list[KPI]:
    """Starter KPIs for ``table``: every template whose columns are found, validated and
    compiled against the table (names unique, first match per name wins)."""
    columns = compute.table_columns(con, table)
    kinds = {c: logical_type(t) for c, t in columns.items()}
    numeric = [c for c, kind in kinds.items() if kind in ("number", "integer")]
    time = next((c for c, kind in kinds.items() if kind in ("date", "datetime")), None)
    by = category_column(con, table, columns)
    kpis: dict[str, KPI] = {}
    for template in TEMPLATES:
        if template.name in kpis:
            continue
        measure = _measure(template, numeric)
        if measure is None:
            continue
        kpi = KPI(
            name=template.name,
            measure=measure,
            type=template.type,
            unit=template.unit,
            direction=template.direction,
            description=template.description,
            time=time,
            by=by,
        )
        try:
            expressions.compile_measure(kpi.measure, list(columns))
            kpis[kpi.name] = validate(kpi)
        except KPIExplorerError:
            continue
    return list(kpis.values())


def category_column(
    con: duckdb.DuckDBPyConnection, table: str, columns: Mapping[str, str]
) -> str | None:
    """A text column with 2 to ``MAX_CATEGORIES`` distinct values; a known name first, else
    the one with the fewest values (one scan for all candidates)."""
    texts = [c for c, t in columns.items() if t == "VARCHAR"]
    if not texts:
        return None
    counts = ", ".join(f"approx_count_distinct({quote_ident(c)})" for c in texts)
    distinct = con.execute(f"SELECT {counts} FROM {quote_ident(table)}").fetchone()
    assert distinct is not None  # an aggregate without GROUP BY returns exactly one row
    fitting = [(n, c) for c, n in zip(texts, distinct, strict=True) if 2 <= n <= MAX_CATEGORIES]
    named = [c for _, c in fitting if any(w in c.lower() for w in _CATEGORY_WORDS)]
    return named[0] if named else min(fitting, default=(0, None))[1]


def _find(keywords: tuple[str, ...], numeric: list[str], taken: set[str]) -> str | None:
    """First numeric column not yet used whose name contains one of ``keywords``."""
    for keyword in keywords:
        for column in numeric:
            if column not in taken and keyword in column.lower() and '"' not in column:
                return column
    return None


def _measure(template: Template, numeric: list[str]) -> str | None:
    """The template's measure over matching columns, or None when one is missing."""
    taken: set[str] = set()
    parts: list[str | None] = []
    for keywords in (template.numerator, template.minus, template.denominator):
        if not keywords:
            parts.append(None)
            continue
        column = _find(keywords, numeric, taken)
        if column is None:
            return None
        taken.add(column)
        parts.append(column)
    top, minus, bottom = parts
    if minus:
        return f'(sum("{top}") - sum("{minus}")) / sum("{top}")'
    measure = f'{template.agg}("{top}")'
    return measure + f' / {template.denominator_agg}("{bottom}")' if bottom else measure
