"""The dashboard as one report (PDF or PNG): a title, the view it shows, a card per KPI and the
selected KPI's charts, composed as one Vega-Lite spec and rendered offline by vl-convert.

A card says what the dashboard's card says (``card_of``): the KPI's value in its unit, the
change, its status word and symbol (``score``), its share of target and its target, over the
latest period or the view's time window. User text (KPI names, owners, categories) is data
of text marks, never markup or code. No Streamlit here: the Dashboard's download button calls
:func:`dashboard_report` on click.

>>> card = card_of(KPI(name="Sales", measure='sum("x")', unit="currency"), {"actual": 1234.5,
...     "target": 1000.0, "attainment": 1.2345, "status": "on target", "change": 34.5,
...     "period": None})
>>> card.value, card.status, card.share
('$1,234', '✔ on target', '123% of target ($1,000)')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kpi_logic import charts, export, score
from kpi_logic.model import KPI
from kpi_logic.text import plain_text

CARDS_PER_ROW = 3
CARD_HEIGHT = 132  # px
NOT_COMPUTED = "could not be computed"


@dataclass(frozen=True)
class Card:
    """What a KPI's card in the report says, line by line."""

    name: str
    value: str
    status: str  # the status word with its symbol (``score.STATUS_SYMBOLS``)
    share: str = ""  # "86% of target ($4.0M)"
    change: str = ""  # "+$12.3K vs previous"
    detail: str = ""  # "Dec 2024 · owner: Ann"
    color_of: str = score.NO_DATA  # the status that colours the card's edge


def card_of(
    kpi: KPI,
    last: Mapping[str, Any] | None,
    *,
    problem: str | None = None,
    window: Mapping[str, Any] | None = None,
) -> Card:
    """``kpi``'s card from its latest all-categories record ``last`` (``summary.card_facts``)
    or, when the view has a time window, its window total (``window``, a
    ``scorecard.score_windows`` record); ``problem`` when it could not be computed."""
    name = plain_text(kpi.name)
    if problem is not None:
        return Card(name, "—", NOT_COMPUTED, detail=plain_text(problem)[:80])
    row = window if window is not None else last
    if row is None:
        return Card(name, "—", _with_symbol(score.NO_DATA), detail="No data for these filters")
    status = str(row["status"])
    change_key, against = (
        ("change_vs_last_year", "vs same days last year")
        if window is not None
        else ("change", "vs previous")
    )
    change = row.get(change_key)
    moved = charts.format_value(change, kpi.unit, signed=True, currency=kpi.currency)
    return Card(
        name,
        charts.format_value(row["actual"], kpi.unit, currency=kpi.currency),
        _with_symbol(status),
        share=_share(kpi, row),
        change="" if score.is_missing(change) else f"{moved} {against}",
        detail=_detail(kpi, row, window is not None),
        color_of=status,
    )


def _with_symbol(status: str) -> str:
    return f"{score.STATUS_SYMBOLS.get(status, '')} {status}".strip()


def _share(kpi: KPI, row: Mapping[str, Any]) -> str:
    """The share of target (or the gap to a target of 0) and the target, as the card says."""
    target = row["target"]
    if score.is_missing(target):
        return "no target set"
    goal = charts.format_value(target, kpi.unit, currency=kpi.currency)
    if not score.is_missing(row["attainment"]):
        return f"{row['attainment']:.0%} of target ({goal})"
    gap = charts.format_value(row["actual"] - target, kpi.unit, signed=True, currency=kpi.currency)
    return f"{gap} against target ({goal})"


def _detail(kpi: KPI, row: Mapping[str, Any], windowed: bool) -> str:
    """When the card's figure is of, and who owns the KPI."""
    owner = f"owner: {plain_text(kpi.owner or 'nobody yet')}"
    if windowed and row.get("window_start") is not None:
        return f"{row['window_start']:%d %b %Y} – {row['window_end']:%d %b %Y} · {owner}"
    if not windowed and row.get("period") is not None:
        return f"{charts.period_label(row['period'], kpi.grain)} · {owner}"
    return owner


def cards_block(cards: Sequence[Card], width: int = export.EXPORT_WIDTH) -> dict[str, Any]:
    """The cards as one Vega-Lite chart of text marks, ``CARDS_PER_ROW`` to a row: a frame
    per card with an edge in its status colour, the KPI's name, value, status, share of target,
    change and detail lines."""
    step = width // CARDS_PER_ROW
    frames: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    for index, card in enumerate(cards):
        x, y = (index % CARDS_PER_ROW) * step, (index // CARDS_PER_ROW) * CARD_HEIGHT
        frames.append({"x": x + 2, "x2": x + step - 6, "y": y + 2, "y2": y + CARD_HEIGHT - 8})
        frames[-1]["status"] = card.color_of
        texts = (
            ("name", card.name, 18),
            ("value", card.value, 44),
            ("status", f"{card.status}  {card.share}".strip(), 66),
            ("change", card.change, 86),
            ("detail", card.detail, 106),
        )
        lines += [{"x": x + 14, "y": y + dy, "kind": k, "text": t} for k, t, dy in texts if t]
    rows = -(-len(cards) // CARDS_PER_ROW) or 1
    pixels = {"type": "quantitative", "scale": None, "axis": None}
    sizes = {"name": (14, "bold"), "value": (22, "bold"), "status": (12, "normal")}
    layers: list[dict[str, Any]] = [
        {
            "data": {"values": frames},
            "mark": {"type": "rect", "fill": "white", "stroke": "#d0d0d0", "cornerRadius": 6},
            "encoding": {
                "x": {"field": "x", **pixels},
                "x2": {"field": "x2"},
                "y": {"field": "y", **pixels},
                "y2": {"field": "y2"},
            },
        },
        {
            "data": {"values": frames},
            "mark": {"type": "rect", "width": 5},
            "encoding": {
                "x": {"field": "x", **pixels},
                "y": {"field": "y", **pixels},
                "y2": {"field": "y2"},
                "color": {
                    "field": "status",
                    "type": "nominal",
                    "scale": {
                        "domain": list(charts.STATUS_COLORS),
                        "range": list(charts.STATUS_COLORS.values()),
                    },
                    "legend": None,
                },
            },
        },
    ]
    for kind in ("name", "value", "status", "change", "detail"):
        size, weight = sizes.get(kind, (11, "normal"))
        layers.append(
            {
                "data": {"values": [line for line in lines if line["kind"] == kind]},
                "mark": {
                    "type": "text",
                    "align": "left",
                    "baseline": "middle",
                    "fontSize": size,
                    "fontWeight": weight,
                    "color": charts.LABEL_COLOR if kind != "detail" else "#555555",
                    "limit": step - 24,
                },
                "encoding": {
                    "x": {"field": "x", **pixels},
                    "y": {"field": "y", **pixels},
                    "text": {"field": "text", "type": "nominal"},
                },
            }
        )
    return {
        "width": width,
        "height": rows * CARD_HEIGHT,
        "view": {"stroke": None},
        "layer": layers,
    }


def report_spec(
    title: str,
    lines: Sequence[str],
    cards: Sequence[Card],
    chart_specs: Sequence[charts.Spec],
    width: int = export.EXPORT_WIDTH,
) -> dict[str, Any]:
    """One Vega-Lite spec of the whole report: ``title`` with the view's description
    (``lines``) under it, the cards, then each chart at ``width`` px, static (a selection
    of the page draws as nothing selected) and with its own data."""
    parts: list[dict[str, Any]] = [cards_block(cards, width)]
    datasets: dict[str, Any] = {}
    for index, chart in enumerate(chart_specs):
        spec = export.export_spec(chart, width)
        spec.pop("config", None)
        spec.pop("$schema", None)
        values = spec.pop("datasets", {})
        names = {name: f"chart{index}_{name}" for name in values}
        datasets.update({names[name]: rows for name, rows in values.items()})
        parts.append(_static(_renamed(spec, names)))
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "title": {
            "text": plain_text(title),
            "subtitle": [plain_text(line) for line in lines] or "",
            "fontSize": 22,
            "subtitleFontSize": 13,
            "anchor": "start",
        },
        "vconcat": parts,
        "spacing": 28,
        "resolve": {"scale": {"color": "independent", "shape": "independent"}},
        "datasets": datasets,
        "config": {**export.EXPORT_CONFIG, "view": {"continuousWidth": width}},
    }


def _renamed(node: Any, names: Mapping[str, str]) -> Any:
    """``node`` with every ``{"name": data}`` reference renamed by ``names``."""
    if isinstance(node, dict):
        out = {k: _renamed(v, names) for k, v in node.items()}
        data = out.get("data")
        if isinstance(data, dict) and data.get("name") in names:
            out["data"] = {**data, "name": names[data["name"]]}
        return out
    if isinstance(node, list):
        return [_renamed(v, names) for v in node]
    return node


def _static(node: Any) -> Any:
    """``node`` without selection parameters; an encoding conditioned on one takes the
    condition's value (nothing selected means everything is)."""
    if isinstance(node, dict):
        out = {k: _static(v) for k, v in node.items() if k != "params"}
        condition = node.get("condition")
        if isinstance(condition, list | dict):
            first = condition[0] if isinstance(condition, list) else condition
            if isinstance(first, dict) and "param" in first and "value" in first:
                return {"value": first["value"]}
        return out
    if isinstance(node, list):
        return [_static(v) for v in node]
    return node


def describe_view(
    *,
    window: str | None,
    start: Any,
    end: Any,
    filters: Mapping[str, Sequence[str]],
    tried: Sequence[str],
) -> list[str]:
    """The report's lines about its view: the cards' window, the date and category filters,
    the KPIs with unsaved (what-if) targets.

    >>> describe_view(window="Year to date", start=None, end=None,
    ...     filters={"Region": ["West"]}, tried=["Revenue"])
    ['Cards: year to date', 'Region: West', 'Unsaved what-if targets: Revenue']
    """
    lines = [f"Cards: {(window or 'latest period').lower()}"]
    if start or end:
        lines.append(f"Dates: {start or '…'} to {end or '…'}")
    lines += [f"{column}: {', '.join(values)}" for column, values in filters.items() if values]
    if tried:
        lines.append(f"Unsaved what-if targets: {', '.join(tried)}")
    return lines


def dashboard_report(spec: Mapping[str, Any], fmt: str) -> bytes:
    """The report ``spec`` (:func:`report_spec`) rendered offline as ``pdf`` or ``png``."""
    import vl_convert

    if fmt == "pdf":
        return bytes(vl_convert.vegalite_to_pdf(dict(spec)))
    return bytes(vl_convert.vegalite_to_png(dict(spec), scale=export.EXPORT_SCALE))
