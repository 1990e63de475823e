"""The KPI editor's rules apart from its widgets: values to a checked KPI with an error per
field, a KPI to values, an empty form from the data's defaults, the preview's value.

>>> columns = {"Order Date": "DATE", "Region": "VARCHAR", "Sales": "DOUBLE"}
>>> values = FormValues(name=" Sales ", aggregation="sum", column="Sales", time="order date",
...                     by="Region", target=500.0)
>>> kpi = kpi_from_form(values, columns)
>>> (kpi.name, kpi.measure, kpi.time, kpi.target.total)
('Sales', 'sum("Sales")', 'Order Date', 500.0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from kpi_logic import compute, expressions, score
from kpi_logic.column_roles import BuilderDefaults
from kpi_logic.compute import Record
from kpi_logic.errors import KPIDefinitionError, KPIExplorerError
from kpi_logic.ingest_types import logical_type
from kpi_logic.model import KPI, is_valid_target
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


FIELDS = ("name", "measure", "filter", "time", "by", "target", "form")  # where errors show


@dataclass(frozen=True)
class FormCheck:
    """The form checked: ``errors`` maps a field of ``FIELDS`` to what to fix there;
    ``kpi`` is the KPI to save (None while there is an error), ``draft`` the KPI the fields
    describe whatever its name (None while the measure, filter or columns are wrong), for
    a preview of its value."""

    kpi: KPI | None
    draft: KPI | None
    errors: dict[str, str]


def check_form(
    values: FormValues,
    columns: Mapping[str, str],
    base: KPI | None = None,
    taken: Collection[str] = (),
) -> FormCheck:
    """Check each field of ``values`` against the table's columns (column -> DuckDB type)
    and the names ``taken`` by other KPIs, and say what is wrong field by field.

    >>> check = check_form(FormValues(name="", expression='sum("Sale")'), {"Sales": "DOUBLE"})
    >>> sorted(check.errors), check.kpi is None
    (['measure', 'name'], True)
    """
    errors = dict(_field_errors(values, columns, taken))
    draft = None
    if not errors.keys() & {"measure", "filter", "time", "by", "target"}:
        try:
            draft = _build(values, columns, base, values.name.strip() or "Preview")
        except KPIExplorerError as err:
            errors["form"] = str(err)
    kpi = None if errors or draft is None else draft
    return FormCheck(kpi, None if "form" in errors else draft, errors)


def kpi_from_form(values: FormValues, columns: Mapping[str, str], base: KPI | None = None) -> KPI:
    """The KPI the form describes (keeping what the form does not show of ``base``, such as
    per-category targets), checked against the table's columns. Raises a
    ``KPIExplorerError`` saying what to fix (the first field's problem)."""
    check = check_form(values, columns, base)
    if check.kpi is None:
        raise KPIDefinitionError(next(iter(check.errors.values())))
    return check.kpi


def new_form(defaults: BuilderDefaults, columns: Mapping[str, str]) -> FormValues:
    """An empty form (no name, target or owner) measuring what the data suggests: the first
    number column that is not an identifier (summed, or averaged for a ratio), else a count
    of rows of the first column; its date column by month and a category column."""
    aggregation = "count" if defaults.column is None else "avg" if defaults.ratio else "sum"
    column = defaults.column or next(iter(columns), None)
    return FormValues(
        name="",
        aggregation=aggregation,
        column=column,
        time=defaults.time,
        by=defaults.by,
    )


def blank_kpi(saved: Sequence[KPI]) -> KPI:
    """A new KPI of the set ``saved`` belongs to: no measure yet, with the set's own settings
    (fiscal year start, currency), which every KPI of a set shares."""
    first = saved[0] if saved else KPI(name="", measure="")
    return KPI(
        name="", measure="", fiscal_year_start=first.fiscal_year_start, currency=first.currency
    )


def latest_total(records: Sequence[Record]) -> Record | None:
    """The latest all-categories record with a value among ``compute.aggregate_records``'
    records (what a KPI's card shows), or None."""
    totals = [r for r in records if r["category"] is None and not score.is_missing(r["actual"])]
    return max(
        totals, key=lambda r: (r["period"] is not None, r["period"] or date.min), default=None
    )


def _field_errors(
    values: FormValues, columns: Mapping[str, str], taken: Collection[str]
) -> Iterator[tuple[str, str]]:
    """(field, problem) for each field that is wrong."""
    name = values.name.strip()
    if not name:
        yield "name", "Give the KPI a name."
    elif name in taken:
        yield "name", f'A KPI named "{name}" already exists; pick another name.'
    names = list(columns)
    if problem := _measure_error(values, names):
        yield "measure", problem
    if values.filter.strip():
        try:
            expressions.compile_filter(values.filter.strip(), names)
        except KPIExplorerError as err:
            yield "filter", str(err)
    for field in ("time", "by"):
        column = getattr(values, field)
        try:
            found = expressions.resolve_column(column, names) if column else None
        except KPIExplorerError as err:
            yield field, str(err)
            continue
        if field == "time" and found and logical_type(columns[found]) not in ("date", "datetime"):
            yield field, f'"{found}" holds {columns[found]}, not dates.'
    if values.target is not None and not is_valid_target(values.target):
        yield "target", "A target is a number, zero or above (not below zero)."


def _measure_error(values: FormValues, names: list[str]) -> str | None:
    """What is wrong with the measure (an expression, or an aggregation of a column)."""
    if values.expression is None:
        return "Pick the column to aggregate." if values.column is None else None
    if not values.expression.strip():
        return 'Type a measure, e.g. sum("Sales").'
    try:
        expressions.compile_measure(values.expression.strip(), names)
    except KPIExplorerError as err:
        return str(err)
    return None


def _build(values: FormValues, columns: Mapping[str, str], base: KPI | None, name: str) -> KPI:
    """The KPI of ``values`` named ``name``, checked by the engine's own checks."""
    if values.expression is not None:
        measure = values.expression.strip()
    else:
        measure = f"{values.aggregation}({quote_ident(values.column or '')})"
    kpi = dataclasses.replace(
        base or KPI(name="", measure=""),
        name=name,
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
