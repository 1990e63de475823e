"""Starter KPIs for a table by type (sales, money, marketing, service, people, operations)
over the roles :mod:`kpi_logic.column_roles` gives its columns: a ratio column is never
summed (the ratio of its parts when they exist, else its average), an id-like column is
counted distinct; each KPI gets a starting target and bands from its own history
(:mod:`kpi_logic.history_targets`), the rule written in its description.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb

from kpi_logic import compute, expressions, history_targets
from kpi_logic.column_roles import Roles, table_roles
from kpi_logic.errors import KPIExplorerError
from kpi_logic.model import KPI, Target


@dataclass(frozen=True)
class Suggestion:
    """A starter KPI (with its starting target and bands), its latest value and the rule."""

    kpi: KPI
    current: float | None  # the latest period's all-categories value
    period: date | None  # that period
    rule: str  # how the target was set


def suggest_kpis(con: duckdb.DuckDBPyConnection, table: str) -> list[KPI]:
    """The KPIs of :func:`suggest` (each with its starting target and bands)."""
    return [s.kpi for s in suggest(con, table)]


def suggest(con: duckdb.DuckDBPyConnection, table: str) -> list[Suggestion]:
    """Starter KPIs for ``table`` by type (sales, money, marketing, service, people,
    operations), each checked against the table, computed once and given a starting target."""
    columns = compute.table_columns(con, table)
    roles = table_roles(con, table, columns)
    drafts: dict[str, KPI] = {}
    for build in (_money, _orders, _marketing, _service, _people, _operations):
        for kpi in build(roles):
            kpi = dataclasses.replace(kpi, time=roles.time, grain=roles.grain, by=roles.by)
            try:
                drafts.setdefault(kpi.name, compute.check_kpi(kpi, columns))
            except KPIExplorerError:
                continue
    records = _records(con, table, list(drafts.values()))
    return [
        _with_target(kpi, [r for r in records if r["kpi"] == kpi.name], columns)
        for kpi in drafts.values()
        if any(r["kpi"] == kpi.name for r in records)
    ]


# --- KPIs by type --------------------------------------------------------------------------


def _q(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _kpi(
    name: str, measure: str, kind: str, unit: str = "number", lower: bool = False, about: str = ""
) -> KPI:
    direction = "lower" if lower else "higher"
    return KPI(name, measure, type=kind, unit=unit, direction=direction, description=about)


def _sum(roles: Roles, role: str) -> str | None:
    """``sum(column)`` of the role's column (true/false counted as 1/0), or None."""
    column = roles.measures.get(role)
    if column is None:
        return None
    return (
        f"sum(CAST({_q(column)} AS INTEGER))"
        if roles.kinds[column] == "boolean"
        else (f"sum({_q(column)})")
    )


def _count(roles: Roles, role: str, entity: str) -> str | None:
    """The role's column summed (a count column), else its entity's ids counted distinct."""
    if (summed := _sum(roles, role)) is not None:
        return summed
    column = roles.ids.get(entity)
    return f"count_distinct({_q(column)})" if column else None


def _rate(roles: Roles, role: str) -> str | None:
    """The average of a 0/1 or true/false column with this role: the share of rows."""
    column = roles.measures.get(role)
    if column is None or column not in roles.flags:
        return None
    return f"avg(CAST({_q(column)} AS INTEGER))"


def _money(r: Roles) -> list[KPI]:
    revenue, profit, cost = (_sum(r, k) for k in ("revenue", "profit", "cost"))
    out = []
    if revenue:
        out.append(_kpi("Revenue", revenue, "financial", "currency", about="Total revenue"))
    if profit:
        out.append(_kpi("Profit", profit, "financial", "currency", about="Total profit"))
    margin = r.measures.get("margin")
    if revenue and profit:
        out.append(
            _kpi(
                "Profit margin",
                f"{profit} / {revenue}",
                "financial",
                "percent",
                about="Profit as a share of revenue",
            )
        )
    elif revenue and cost:
        out.append(
            _kpi(
                "Profit margin",
                f"({revenue} - {cost}) / {revenue}",
                "financial",
                "percent",
                about="Revenue less cost, as a share of revenue",
            )
        )
    elif margin and revenue:
        weighted = f"sum({_q(r.measures['revenue'])} * {_q(margin)}) / {revenue}"
        out.append(
            _kpi(
                "Profit margin",
                weighted,
                "financial",
                "percent",
                about=f"{margin} weighted by revenue",
            )
        )
    elif margin:
        out.append(
            _kpi(
                "Profit margin",
                f"avg({_q(margin)})",
                "financial",
                "percent",
                about=f"Average {margin}",
            )
        )
    if cost:
        out.append(_kpi("Costs", cost, "financial", "currency", lower=True, about="Total cost"))
    if cost and revenue and profit:
        out.append(
            _kpi(
                "Cost ratio",
                f"{cost} / {revenue}",
                "financial",
                "percent",
                lower=True,
                about="Cost as a share of revenue",
            )
        )
    return out


def _orders(r: Roles) -> list[KPI]:
    revenue, orders = _sum(r, "revenue"), _count(r, "orders", "order")
    out = []
    if orders:
        out.append(_kpi("Orders", orders, "sales", about="Number of orders"))
    if customers := r.ids.get("customer"):
        out.append(
            _kpi(
                "Customers",
                f"count_distinct({_q(customers)})",
                "customer",
                about="Customers who ordered",
            )
        )
    if new := _sum(r, "new_customers"):
        out.append(_kpi("New customers", new, "customer", about="Customers won"))
    if units := _sum(r, "quantity"):
        out.append(_kpi("Units sold", units, "sales", about="Units sold"))
    if revenue and orders:
        out.append(
            _kpi(
                "Average order value",
                f"{revenue} / {orders}",
                "sales",
                "currency",
                about="Revenue per order",
            )
        )
    discount = r.measures.get("discount")
    if discount and discount in r.ratios:
        out.append(
            _kpi(
                "Average discount",
                f"avg({_q(discount)})",
                "sales",
                "percent",
                lower=True,
                about="Average discount per row",
            )
        )
    elif discount and revenue:
        out.append(
            _kpi(
                "Discount rate",
                f"{_sum(r, 'discount')} / {revenue}",
                "sales",
                "percent",
                lower=True,
                about="Discounts as a share of revenue",
            )
        )
    return out


def _marketing(r: Roles) -> list[KPI]:
    leads, spend = _count(r, "leads", "lead"), _sum(r, "spend")
    won = _sum(r, "conversions")
    out = []
    if leads:
        out.append(_kpi("Leads", leads, "marketing", about="Leads generated"))
    if won and leads:
        out.append(
            _kpi(
                "Conversion rate",
                f"{won} / {leads}",
                "sales",
                "percent",
                about="Conversions per lead",
            )
        )
    elif rate := _rate(r, "conversions") or _avg(r, "conversion_rate"):
        out.append(_kpi("Conversion rate", rate, "sales", "percent", about="Share converted"))
    if spend and leads:
        out.append(
            _kpi(
                "Cost per lead",
                f"{spend} / {leads}",
                "marketing",
                "currency",
                lower=True,
                about="Marketing spend per lead",
            )
        )
    if spend and (bought := _sum(r, "new_customers") or won):
        out.append(
            _kpi(
                "Customer acquisition cost",
                f"{spend} / {bought}",
                "marketing",
                "currency",
                lower=True,
                about="Marketing spend per customer won",
            )
        )
    if (clicks := _sum(r, "clicks")) and (seen := _sum(r, "impressions")):
        out.append(
            _kpi(
                "Click-through rate",
                f"{clicks} / {seen}",
                "marketing",
                "percent",
                about="Clicks per impression",
            )
        )
    if spend:
        out.append(
            _kpi(
                "Marketing spend",
                spend,
                "marketing",
                "currency",
                lower=True,
                about="Total marketing spend",
            )
        )
    return out


def _avg(r: Roles, role: str) -> str | None:
    column = r.measures.get(role)
    return f"avg({_q(column)})" if column else None


def _service(r: Roles) -> list[KPI]:
    tickets = _count(r, "tickets", "ticket")
    out = []
    if tickets:
        out.append(_kpi("Tickets", tickets, "customer", lower=True, about="Tickets opened"))
    if resolution := _avg(r, "resolution"):
        out.append(
            _kpi(
                "Resolution time",
                resolution,
                "customer",
                lower=True,
                about="Average time to resolve",
            )
        )
    if r.open_until and (r.ids.get("ticket") or r.measures.get("resolution")):
        out.append(
            _kpi(
                "Backlog",
                f"count(*) - count({_q(r.open_until)})",
                "operational",
                lower=True,
                about=f"Rows without a {r.open_until} yet (still open)",
            )
        )
    if satisfaction := _avg(r, "satisfaction"):
        out.append(_kpi("Satisfaction", satisfaction, "customer", about="Average satisfaction"))
    return out


def _people(r: Roles) -> list[KPI]:
    headcount = _count(r, "headcount", "employee")
    out = []
    if headcount and r.measures.get("headcount") and r.time:  # a level: averaged over dates
        headcount = f"({headcount} / count_distinct({_q(r.time)}))"
    if headcount:
        out.append(
            _kpi(
                "Headcount",
                headcount,
                "employee",
                about="People employed (on average over a period's dates)",
            )
        )
    if hires := _sum(r, "hires"):
        out.append(_kpi("Hires", hires, "employee", about="People hired"))
    if (leavers := _sum(r, "leavers")) and headcount:
        out.append(
            _kpi(
                "Staff turnover",
                f"{leavers} / {headcount}",
                "employee",
                "percent",
                lower=True,
                about="Leavers per head",
            )
        )
    return out


def _operations(r: Roles) -> list[KPI]:
    out = []
    defects, inspected = _sum(r, "defects"), _sum(r, "inspected")
    if defect_rate := (f"{defects} / {inspected}" if defects and inspected else None) or _rate(
        r, "defects"
    ):
        out.append(
            _kpi(
                "Defect rate",
                defect_rate,
                "quality & compliance",
                "percent",
                lower=True,
                about="Defective units per unit inspected",
            )
        )
    on_time, deliveries = _sum(r, "on_time"), _sum(r, "deliveries")
    if on_time_rate := (f"{on_time} / {deliveries}" if on_time and deliveries else None) or _rate(
        r, "on_time"
    ):
        out.append(
            _kpi(
                "On-time rate",
                on_time_rate,
                "operational",
                "percent",
                about="Deliveries on time per delivery",
            )
        )
    return out


# --- targets -------------------------------------------------------------------------------


def _records(
    con: duckdb.DuckDBPyConnection, table: str, kpis: list[KPI]
) -> list[dict[str, object]]:
    """Every KPI's aggregate in one go; when that fails, KPI by KPI, leaving out those that
    can't be computed."""
    try:
        return compute.aggregate_records(con, table, kpis)
    except KPIExplorerError:
        records = []
        for kpi in kpis:
            try:
                records += compute.aggregate_records(con, table, [kpi])
            except KPIExplorerError:
                continue
        return records


def _series(records: Sequence[Mapping[str, object]]) -> dict[str | None, dict[date, float]]:
    """Category (None for all categories) -> period -> actual, where there is one."""
    series: dict[str | None, dict[date, float]] = {}
    for record in records:
        category, period, actual = record["category"], record["period"], record["actual"]
        if isinstance(period, date) and isinstance(actual, float) and actual == actual:
            series.setdefault(None if category is None else str(category), {})[period] = actual
    return series


def _with_target(
    kpi: KPI, records: Sequence[Mapping[str, object]], columns: Mapping[str, str]
) -> Suggestion:
    """``kpi`` with its starting target and bands, its latest value and the rule."""
    simple = expressions.aggregate_of(kpi.measure, list(columns))
    volume = simple is not None and simple[0] in history_targets.VOLUME_FUNCTIONS
    series = _series(records)
    totals = series.pop(None, {})
    bands = history_targets.bands_for(volume)
    if not totals:
        current = next((r["actual"] for r in records if r["category"] is None), None)
        value = float(current) if isinstance(current, float) and current == current else None
        rule = "no dates to learn from: set a target by hand"
        return Suggestion(dataclasses.replace(kpi, bands=bands), value, None, rule)
    latest = max(totals)
    total = history_targets.propose(totals, kpi.grain, volume=volume, latest=latest)
    target = Target(default=total.value)
    if kpi.by is not None:
        proposals = {
            category: history_targets.propose(values, kpi.grain, volume=volume, latest=latest)
            for category, values in series.items()
        }
        per_category = {str(c): p.value for c, p in proposals.items() if p.value is not None}
        target = Target(by_category=per_category, total=total.value)
    about = f"{kpi.description}. Starting target: {total.rule}."
    kpi = dataclasses.replace(kpi, target=target, bands=bands, description=about)
    return Suggestion(kpi, totals[latest], latest, total.rule)
