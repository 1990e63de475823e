"""The review meeting's digest: one deterministic page, as Markdown or HTML.

Every KPI that needs attention comes first, with its owner, gap, largest contributor, pace,
chance of meeting the target by its due date and last note; every KPI on target is one
line; KPIs that cannot be judged (no target, no data, a definition that fails) are one line
each too. A KPI needs attention when its latest all-categories value is off target or at
risk, or when its chance of being on target at its due date is under ``LIKELY`` (50%).

Every sentence is a template over numbers the engine computed (``score``, ``explain``,
``forecast``, ``projection``): the same data, KPIs, notes and date give the same page, byte
for byte. User text (KPI names, owners, categories, notes) is escaped: ``html.escape`` in
HTML, ``text.markdown_text`` in Markdown; numbers go through the same escape in Markdown
(``$`` starts math in some renderers).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import cast

import duckdb

from kpi_logic import compute, explain, forecast, projection, score, summary
from kpi_logic.charts import format_value, period_label
from kpi_logic.errors import KPIExplorerError
from kpi_logic.model import KPI
from kpi_logic.store import Note
from kpi_logic.text import markdown_text, plain_text

LIKELY = 0.5  # below this chance of meeting the target by the due date, a KPI needs attention
ATTENTION, ON_TARGET, NOT_JUDGED = "Needs attention", "On target", "Not judged"


@dataclass(frozen=True)
class Item:
    """What the digest says about one KPI."""

    kpi: KPI
    section: str  # ATTENTION, ON_TARGET or NOT_JUDGED
    status: str  # a word of score.STATUSES, or the problem's message
    period: date | None = None
    actual: float = math.nan
    target: float = math.nan
    attainment: float = math.nan
    top: str | None = None  # the largest contributor's reading, or why there is none
    top_category: str | None = None
    pace: forecast.Pace | None = None
    outlook: projection.Projection | None = None
    note: Note | None = None


@dataclass(frozen=True)
class Digest:
    """The digest's content, in order."""

    title: str
    as_of: date | None
    items: list[Item]

    def section(self, name: str) -> list[Item]:
        """The items of one section, in order."""
        return [item for item in self.items if item.section == name]


def build(
    title: str,
    kpis: Sequence[KPI],
    scored: Sequence[Mapping[str, object]],
    notes: Sequence[Note],
    explanations: Mapping[str, explain.Explanation | str],
    *,
    problems: Mapping[str, str] | None = None,
    as_of: date | None = None,
) -> Digest:
    """The digest of ``kpis`` from ``score.score_records`` rows, notes (newest first; with
    ``as_of``, those written by then) and an explanation (or why there is none) per KPI that
    is off target or at risk."""
    problems = problems or {}
    if as_of is not None:  # a digest of an earlier day shows the notes written by then
        notes = [n for n in notes if n.created_at.date() <= as_of]
    newest = summary.last_notes(notes)
    items = []
    for kpi in kpis:
        note = newest.get(kpi.name)
        if kpi.name in problems:
            items.append(Item(kpi, NOT_JUDGED, problems[kpi.name], note=note))
            continue
        own = [r for r in scored if r["kpi"] == kpi.name]
        last = _latest_total(own)
        outlook = projection.project(kpi, own, as_of)
        pace = forecast.pace(kpi, cast("list[compute.Record]", own), as_of)
        items.append(_item(kpi, last, explanations.get(kpi.name), pace, outlook, note))
    order = {ATTENTION: 0, ON_TARGET: 1, NOT_JUDGED: 2}
    severity = {score.OFF_TARGET: 0, score.AT_RISK: 1}
    items.sort(key=lambda i: (order[i.section], severity.get(i.status, 2)))
    return Digest(title, as_of or _last_day(scored), items)


def _latest_total(rows: Sequence[Mapping[str, object]]) -> Mapping[str, object] | None:
    totals = [r for r in rows if r["category"] is None and not math.isnan(cast(float, r["actual"]))]
    totals.sort(key=lambda r: cast(date, r["period"]) or date.min)
    return totals[-1] if totals else None


def _last_day(rows: Sequence[Mapping[str, object]]) -> date | None:
    days = [cast(date, r["as_of"]) for r in rows if r.get("as_of") is not None]
    return max(days, default=None)


def _item(
    kpi: KPI,
    last: Mapping[str, object] | None,
    why: explain.Explanation | str | None,
    pace: forecast.Pace | None,
    outlook: projection.Projection | None,
    note: Note | None,
) -> Item:
    if last is None:
        return Item(kpi, NOT_JUDGED, score.NO_DATA, note=note)
    status = cast(str, last["status"])
    actual, target, rate = (float(cast(float, last[k])) for k in ("actual", "target", "attainment"))
    period = cast("date | None", last["period"])
    if status not in (score.ON_TARGET, score.AT_RISK, score.OFF_TARGET):
        return Item(kpi, NOT_JUDGED, status, period, actual, target, rate, note=note)
    unlikely = outlook is not None and outlook.probability < LIKELY
    section = ON_TARGET if status == score.ON_TARGET and not unlikely else ATTENTION
    top = top_category = None
    if isinstance(why, explain.Explanation):
        top = explain.reading(why, kpi.unit, kpi.currency)
        if why.top is not None and why.top.kind == explain.CATEGORY:
            top_category = why.top.category
        if why.top is not None and why.top.kind == explain.ALL:
            top = None  # no categories: the gap line says it all
    elif why is not None:
        top = f"not told ({why})"
    return Item(
        kpi, section, status, period, actual, target, rate, top=top, top_category=top_category,
        pace=pace, outlook=outlook, note=note,
    )  # fmt: skip


def digest_for(
    con: duckdb.DuckDBPyConnection,
    table: str,
    kpis: Sequence[KPI],
    notes: Sequence[Note],
    *,
    title: str = "KPI review",
    as_of: date | None = None,
) -> Digest:
    """Aggregate, score, explain and project ``kpis`` over ``table`` (data up to ``as_of``)
    and build the digest; a KPI that cannot be computed is listed with its problem."""
    records, problems = [], {}
    for kpi in kpis:
        try:
            records += compute.aggregate_records(con, table, [kpi], end=as_of)
        except KPIExplorerError as err:
            problems[kpi.name] = str(err)
    scored = score.score_records(records, kpis)
    explanations: dict[str, explain.Explanation | str] = {}
    for kpi in kpis:
        rows = [r for r in scored if r["kpi"] == kpi.name]
        last = _latest_total(rows)
        if last is None or last["status"] not in (score.AT_RISK, score.OFF_TARGET):
            continue
        try:
            explanations[kpi.name] = explain.explain(con, table, kpi, as_of=as_of)
        except KPIExplorerError as err:
            explanations[kpi.name] = str(err)
    return build(title, kpis, scored, notes, explanations, problems=problems, as_of=as_of)


# --- the page --------------------------------------------------------------------------


def sentences(item: Item, escape: Callable[[object], str]) -> list[str]:
    """The lines said about one KPI that needs attention, user text and numbers escaped by
    ``escape``; every line is a template over the engine's numbers."""
    kpi = item.kpi
    unit = kpi.unit

    def value(number: float, signed: bool = False) -> str:
        return escape(format_value(number, unit, signed=signed, currency=kpi.currency))

    lines = [f"Owner: {escape(kpi.owner or 'nobody yet')}"]
    when = "" if item.period is None else f"{escape(period_label(item.period, kpi.grain))}: "
    gap = item.actual - item.target
    lines.append(
        f"{when}{value(item.actual)} against a target of {value(item.target)}"
        f" ({item.attainment:.0%} of target), a gap of {value(gap, True)}"
    )
    if item.top:
        lines.append(f"Largest contributor: {escape(item.top)}")
    if item.pace is not None:
        lines.append(
            f"Pace to {item.pace.due:%d %b %Y}: {item.pace.status}, expected "
            f"{value(item.pace.expected)} by {item.pace.as_of:%d %b}, projected "
            f"{value(item.pace.projected)}"
        )
    if item.outlook is not None:
        out = item.outlook
        lines.append(
            f"Chance of being on target by {out.due:%d %b %Y}: {out.probability:.0%} "
            f"(projected {value(out.value)}, 80% interval {value(out.low)} to {value(out.high)})"
        )
    lines.append(_note_line(item.note, escape))
    return lines


def _note_line(note: Note | None, escape: Callable[[object], str]) -> str:
    if note is None:
        return "Last note: none"
    label = f" [{escape(note.status)}]" if note.status else ""
    return (
        f"Last note ({note.created_at:%Y-%m-%d}, {escape(note.author or 'anonymous')}){label}: "
        f"{escape(note.text)}"
    )


def one_line(item: Item, escape: Callable[[object], str]) -> str:
    """A KPI on target, or not judged, in one line."""
    kpi = item.kpi
    name = escape(kpi.name)
    if item.section == NOT_JUDGED:
        return f"{name}: {escape(item.status)}"
    when = "" if item.period is None else f" in {escape(period_label(item.period, kpi.grain))}"
    actual = escape(format_value(item.actual, kpi.unit, currency=kpi.currency))
    target = escape(format_value(item.target, kpi.unit, currency=kpi.currency))
    owner = escape(kpi.owner or "nobody yet")
    return f"{name}: {actual} against {target}{when} ({item.attainment:.0%}), owner {owner}"


def _counts(digest: Digest) -> str:
    words = {
        status: sum(i.status == status for i in digest.items)
        for status in (score.OFF_TARGET, score.AT_RISK, score.ON_TARGET)
    }
    judged = ", ".join(f"{n} {status}" for status, n in words.items())
    return f"{len(digest.items)} KPIs: {judged}; {len(digest.section(ATTENTION))} need attention."


def _heading(item: Item, escape: Callable[[object], str]) -> str:
    return f"{score.STATUS_SYMBOLS.get(item.status, '')} {escape(item.kpi.name)}: {item.status}"


def to_markdown(digest: Digest) -> str:
    """The digest as Markdown (user text escaped with ``text.markdown_text``)."""
    esc = markdown_text
    when = "" if digest.as_of is None else f" as of {digest.as_of:%d %b %Y}"
    out = [f"# {esc(digest.title)}{when}", "", _counts(digest), ""]
    for name in (ATTENTION, ON_TARGET, NOT_JUDGED):
        items = digest.section(name)
        if not items:
            continue
        out += [f"## {name}", ""]
        for item in items:
            if name == ATTENTION:
                out += [f"### {_heading(item, esc)}", ""]
                out += [f"- {line}" for line in sentences(item, esc)] + [""]
            else:
                out.append(f"- {score.STATUS_SYMBOLS.get(item.status, '')} {one_line(item, esc)}")
        if name != ATTENTION:
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def notes_from_csv(text: str) -> list[Note]:
    """Check-in notes from CSV text with a header ``kpi, date, author, text`` (``status``
    optional), newest first (the command line's ``--notes``: the app's store belongs to the
    app's process). Raises ``KPIExplorerError`` naming the line of a bad row."""
    import csv
    from datetime import datetime

    rows = list(csv.DictReader(text.splitlines()))
    notes = []
    for number, row in enumerate(rows, start=2):
        try:
            when = datetime.fromisoformat(str(row.get("date") or "").strip())
        except ValueError:
            raise KPIExplorerError(
                f"notes line {number}: date {plain_text(row.get('date'))!r} is not like 2024-12-01"
            ) from None
        if not row.get("kpi") or not row.get("text"):
            raise KPIExplorerError(f"notes line {number}: needs a kpi and a text")
        status = (row.get("status") or "").strip() or None
        notes.append(
            Note(str(number), "", row["kpi"], row.get("author") or "", row["text"], status, when)
        )
    return sorted(notes, key=lambda n: n.created_at, reverse=True)


def _html(value: object) -> str:
    return html.escape(plain_text(value))


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;color:#1a1a1a}"
    "h3{margin-bottom:.2rem}li{margin:.15rem 0}.status{font-weight:600}"
)


def to_html(digest: Digest) -> str:
    """The digest as a standalone HTML page (user text escaped with ``html.escape``)."""
    when = "" if digest.as_of is None else f" as of {digest.as_of:%d %b %Y}"
    title = f"{_html(digest.title)}{when}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        f"<p>{_html(_counts(digest))}</p>",
    ]
    for name in (ATTENTION, ON_TARGET, NOT_JUDGED):
        items = digest.section(name)
        if not items:
            continue
        out.append(f"<h2>{name}</h2>")
        if name == ATTENTION:
            for item in items:
                out.append(f'<h3 class="status">{_heading(item, _html)}</h3><ul>')
                out += [f"<li>{line}</li>" for line in sentences(item, _html)]
                out.append("</ul>")
            continue
        out.append("<ul>")
        symbol = score.STATUS_SYMBOLS
        out += [f"<li>{symbol.get(i.status, '')} {one_line(i, _html)}</li>" for i in items]
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
