"""What the dashboard's cards and the Review page say about each KPI, from scored records.

>>> rows = [{"kpi": "Sales", "category": c, "period": p, "actual": a, "status": s}
...     for c, p, a, s in [(None, 1, 5.0, ""), (None, 2, 7.0, "on target"),
...                        ("West", 2, 7.0, "at risk")]]
>>> facts = card_facts(rows)["Sales"]
>>> (facts.sparkline, facts.on_target, facts.categories)
([5.0, 7.0], 0, 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kpi_logic import charts, forecast, score
from kpi_logic.compute import Record
from kpi_logic.formats import format_value
from kpi_logic.model import KPI
from kpi_logic.store import Note


@dataclass
class CardFacts:
    """What a KPI's card shows besides the KPI itself."""

    last: Record | None = None  # the latest all-categories record with an actual
    sparkline: list[float] = field(default_factory=list)  # actuals by period
    periods: int = 0  # all-categories records, with or without an actual
    on_target: int = 0  # categories on target in the latest period...
    categories: int = 0  # ... of so many


def card_facts(results: Sequence[Record]) -> dict[str, CardFacts]:
    """Each KPI's ``CardFacts`` (a card, a review row), from the scored ``results`` (records
    of ``score.score_records``)."""
    totals = sorted(
        (r for r in results if r["category"] is None),
        key=lambda r: (r["period"] is not None, r["period"]),  # no period first, then by date
    )
    facts: dict[str, CardFacts] = {}
    for record in totals:
        fact = facts.setdefault(record["kpi"], CardFacts())
        fact.periods += 1
        if not score.is_missing(record["actual"]):
            fact.sparkline.append(float(record["actual"]))
            fact.last = record
    latest = {name: f.last["period"] for name, f in facts.items() if f.last is not None}
    for record in results:
        name = record["kpi"]
        if record["category"] is not None and name in latest and record["period"] == latest[name]:
            facts[name].categories += 1
            facts[name].on_target += record["status"] == score.ON_TARGET
    return facts


def trend_verdict(values: Sequence[float], direction: str) -> str:
    """Whether a window of values went the KPI's way, first value against last (a dip in
    the last step of a rising series does not turn it): ``better``, ``worse`` or ``flat``.

    >>> trend_verdict([10, 14, 18, 16], "higher"), trend_verdict([10, 14, 18, 16], "lower")
    ('better', 'worse')
    """
    if len(values) < 2 or values[-1] == values[0]:
        return "flat"
    rose = values[-1] > values[0]
    return "better" if rose == (direction != "lower") else "worse"


def last_notes(notes: Sequence[Note]) -> dict[str, Note]:
    """The newest note of each KPI, from notes listed newest first."""
    newest: dict[str, Note] = {}
    for note in notes:
        newest.setdefault(note.kpi_name, note)
    return newest


def review_rows(
    kpis: Sequence[KPI],
    results: Sequence[Record],
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
    results: Sequence[Record],
    problems: Mapping[str, str],
    notes: Mapping[str, Note],
) -> dict[str, Any]:
    last = fact.last if fact is not None else None
    pace = forecast.pace(kpi, results) if kpi.name not in problems else None
    note = notes.get(kpi.name)
    period = None if last is None else last["period"]
    sign = kpi.currency
    attained = None if last is None or score.is_missing(last["attainment"]) else last["attainment"]
    return {
        "KPI": kpi.name,
        "Type": kpi.type,
        "Owner": kpi.owner,
        "Period": None if period is None else charts.period_label(period, kpi.grain),
        "Actual": None if last is None else format_value(last["actual"], kpi.unit, currency=sign),
        "Target": None if last is None else format_value(last["target"], kpi.unit, currency=sign),
        "Attainment": None if attained is None else float(attained),
        "Status": problems.get(kpi.name, score.NO_DATA if last is None else last["status"]),
        "Pace": None
        if pace is None
        else f"{pace.status} (projected "
        f"{format_value(pace.projected, kpi.unit, currency=sign)} by {pace.due:%d %b %Y})",
        "Last note": None
        if note is None
        else f"{note.created_at:%Y-%m-%d} {note.author or 'anonymous'}: {note.text}",
    }
