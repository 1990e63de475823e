"""The KPI form's values to a KPI: the rules of the builder, apart from its widgets.

>>> columns = {"Order Date": "DATE", "Region": "VARCHAR", "Sales": "DOUBLE"}
>>> values = FormValues(name=" Sales ", aggregation="sum", column="Sales", time="order date",
...                     by="Region", target=500.0)
>>> kpi = kpi_from_form(values, columns)
>>> (kpi.name, kpi.measure, kpi.time, kpi.target.total)
('Sales', 'sum("Sales")', 'Order Date', 500.0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from kpi_logic import compute, expressions
from kpi_logic.errors import KPIDefinitionError
from kpi_logic.ingest_types import logical_type
from kpi_logic.model import KPI
from kpi_logic.sql import quote_ident
from kpi_logic.targets import headline_target


@dataclass(frozen=True)
class FormValues:
    """What the form holds. The measure is ``aggregation`` over ``column`` unless an
    ``expression`` is given; ``target`` is the headline target (the all-categories total of
    a KPI with ``by``, else every period's)."""

    name: str
    aggregation: str = "sum"
    column: str | None = None
    expression: str | None = None
    filter: str = ""
    time: str | None = None
    grain: str = "month"
    by: str | None = None
    type: str = "financial"
    direction: str = "higher"
    unit: str = "number"
    owner: str = ""
    description: str = ""
    target: float | None = None
    due: date | None = None


@dataclass(frozen=True)
class ColumnRoles:
    """A table's columns by what the form offers them for."""

    dates: list[str]
    numbers: list[str]
    others: list[str]


def column_roles(columns: Mapping[str, str]) -> ColumnRoles:
    """Date columns (for the period), number columns (to aggregate) and the rest
    (categories), from column -> DuckDB type."""
    kinds = {name: logical_type(sql_type) for name, sql_type in columns.items()}
    dates = [c for c, k in kinds.items() if k in ("date", "datetime")]
    numbers = [c for c, k in kinds.items() if k in ("number", "integer")]
    return ColumnRoles(dates, numbers, [c for c in kinds if c not in dates + numbers])


def form_values(kpi: KPI, columns: Mapping[str, str]) -> FormValues:
    """The form's values for an existing KPI: a single aggregate over one column is shown as
    aggregation and column, anything else as an expression."""
    simple = expressions.aggregate_of(kpi.measure, list(columns)) if kpi.measure else None
    return FormValues(
        name=kpi.name,
        aggregation=simple[0] if simple else "sum",
        column=simple[1] if simple and simple[1] != "*" else None,
        expression=None if simple else kpi.measure,
        filter=kpi.filter or "",
        time=kpi.time,
        grain=kpi.grain,
        by=kpi.by,
        type=kpi.type,
        direction=kpi.direction,
        unit=kpi.unit,
        owner=kpi.owner,
        description=kpi.description,
        target=headline_target(kpi),
        due=kpi.due,
    )


def kpi_from_form(values: FormValues, columns: Mapping[str, str], base: KPI | None = None) -> KPI:
    """The KPI the form describes (keeping what the form does not show of ``base``, such as
    per-category targets), checked against the table's columns. Raises a
    ``KPIExplorerError`` saying what to fix."""
    if not values.name.strip():
        raise KPIDefinitionError("Give the KPI a name.")
    if values.expression is not None:
        measure = values.expression.strip()
    elif values.column is None:
        raise KPIDefinitionError("Pick the column to aggregate.")
    else:
        measure = f"{values.aggregation}({quote_ident(values.column)})"
    kpi = dataclasses.replace(
        base or KPI(name="", measure=""),
        name=values.name.strip(),
        measure=measure,
        filter=values.filter.strip() or None,
        time=values.time,
        grain=values.grain,
        by=values.by,
        type=values.type,
        direction=values.direction,
        unit=values.unit,
        owner=values.owner.strip(),
        description=values.description.strip(),
        due=values.due,
    )
    kpi = kpi.with_total_target(values.target) if kpi.by else kpi.with_target(values.target)
    return compute.check_kpi(kpi, columns)
