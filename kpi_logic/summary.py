"""What the dashboard's cards and the Review page say about each KPI, from scored results.

>>> import pandas as pd
>>> rows = pd.DataFrame({"kpi": ["Sales"] * 3, "category": [None, None, "West"],
...     "period": [1, 2, 2], "actual": [5.0, 7.0, 7.0], "status": ["", "on target", "at risk"]})
>>> facts = card_facts(rows)["Sales"]
>>> (facts.sparkline, facts.on_target, facts.categories)
([5.0, 7.0], 0, 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kpi_logic import charts, forecast, score
from kpi_logic.model import KPI
from kpi_logic.store import Note


@dataclass
class CardFacts:
    """What a KPI's card shows besides the KPI itself."""

    last: pd.Series | None = None  # the latest all-categories row with an actual
    sparkline: list[float] = field(default_factory=list)  # actuals by period
    periods: int = 0  # all-categories rows, with or without an actual
    on_target: int = 0  # categories on target in the latest period...
    categories: int = 0  # ... of so many


def card_facts(results: pd.DataFrame) -> dict[str, CardFacts]:
    """Each KPI's ``CardFacts`` (a card, a review row), from one sort of the all-categories
    rows of scored ``results`` (a rerun after a target move redraws every card, so this stays
    a few plain passes over columns)."""
    totals = results[results["category"].isna()]
    totals = totals.sort_values("period", na_position="first", kind="stable")
    facts: dict[str, CardFacts] = {}
    last_at: dict[str, int] = {}
    names, actuals = totals["kpi"].tolist(), totals["actual"].tolist()
    for i, (name, actual) in enumerate(zip(names, actuals, strict=True)):
        fact = facts.setdefault(name, CardFacts())
        fact.periods += 1
        if pd.notna(actual):
            fact.sparkline.append(float(actual))
            last_at[name] = i
    for name, i in last_at.items():
        facts[name].last = totals.iloc[i]
    latest = {name: f.last["period"] for name, f in facts.items() if f.last is not None}
    cells = results[results["category"].notna()]
    columns = (cells[c].tolist() for c in ("kpi", "period", "status"))
    for name, period, status in zip(*columns, strict=True):
        if name in latest and period == latest[name]:
            facts[name].categories += 1
            facts[name].on_target += status == score.ON_TARGET
    return facts


def last_notes(notes: Sequence[Note]) -> dict[str, Note]:
    """The newest note of each KPI, from notes listed newest first."""
    newest: dict[str, Note] = {}
    for note in notes:
        newest.setdefault(note.kpi_name, note)
    return newest


def review_rows(
    kpis: Sequence[KPI],
    results: pd.DataFrame,
    problems: Mapping[str, str],
    notes: Mapping[str, Note],
) -> list[dict[str, Any]]:
    """One row per KPI for the Review table: owner, latest period, actual, target,
    attainment, status (or why it could not be computed), pace to the due date, last note."""
    facts = card_facts(results)
    return [_review_row(k, facts.get(k.name), results, problems, notes) for k in kpis]


def _review_row(
    kpi: KPI,
    fact: CardFacts | None,
    results: pd.DataFrame,
    problems: Mapping[str, str],
    notes: Mapping[str, Note],
) -> dict[str, Any]:
    last = fact.last if fact is not None else None
    pace = forecast.pace(kpi, results) if kpi.name not in problems else None
    note = notes.get(kpi.name)
    period = None if last is None or pd.isna(last["period"]) else last["period"]
    attained = None if last is None or pd.isna(last["attainment"]) else last["attainment"]
    return {
        "KPI": kpi.name,
        "Type": kpi.type,
        "Owner": kpi.owner,
        "Period": None if period is None else charts.period_label(period, kpi.grain),
        "Actual": None if last is None else charts.format_value(last["actual"], kpi.unit),
        "Target": None if last is None else charts.format_value(last["target"], kpi.unit),
        "Attainment": None if attained is None else float(attained),
        "Status": problems.get(kpi.name, score.NO_DATA if last is None else last["status"]),
        "Pace": None
        if pace is None
        else f"{pace.status} (projected "
        f"{charts.format_value(pace.projected, kpi.unit)} by {pace.due:%d %b %Y})",
        "Last note": None
        if note is None
        else f"{note.created_at:%Y-%m-%d} {note.author or 'anonymous'}: {note.text}",
    }
