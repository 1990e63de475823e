"""The parts every chart is made of: the status palette and shapes, period labels and time
axes, value texts and axes in a KPI's unit (``formats``), the records-to-table step, the bands
of a bullet, and the one-template-per-shape machinery (``make_spec``). ``charts`` builds the
charts from them."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, Literal

import altair as alt
import numpy as np
import numpy.typing as npt
import pandas as pd

from kpi_logic import formats, score
from kpi_logic.formats import number_format

# Okabe-Ito based, greys apart in lightness: every pair stays at least 15 CIELAB units apart
# under simulated protanopia, deuteranopia and tritanopia (Machado et al. 2009, severity 1;
# tests/test_palette.py). Colour never tells a status alone: each has a mark shape here and
# a symbol beside its word (``score.STATUS_SYMBOLS``).
STATUS_COLORS = {
    score.ON_TARGET: "#009e73",
    score.AT_RISK: "#e69f00",
    score.OFF_TARGET: "#d55e00",
    score.NO_TARGET: "#555555",
    score.NO_DATA: "#cccccc",
}
STATUS_SHAPES = {  # Vega-Lite point shapes
    score.ON_TARGET: "circle",
    score.AT_RISK: "triangle-up",
    score.OFF_TARGET: "cross",
    score.NO_TARGET: "square",
    score.NO_DATA: "diamond",
}
ACTUAL_COLOR = "#4c9be8"  # the actual's line where no status colours it
TARGET_COLOR = "#7f7f7f"  # target ticks and lines
LABEL_COLOR = "#1a1a1a"  # text drawn on status colours
PERIOD_FORMATS = {
    "day": "%d %b %Y",
    "week": "%d %b %Y",
    "month": "%b %Y",
    "quarter": "Q%q %Y",
    "year": "%Y",
}
BAND_OPACITY = 0.25
# A time axis ticks once per period at most (a year-grain trend never labels "2013 2013"):
# Vega's time interval of each grain, and how many of them make one period.
TICKS: dict[str, tuple[Literal["day", "week", "month", "year"], int]] = {
    "day": ("day", 1),
    "week": ("week", 1),
    "month": ("month", 1),
    "quarter": ("month", 3),
    "year": ("year", 1),
}

Spec = dict[str, Any]  # Vega-Lite, with DataFrames as its datasets
Edge = float | npt.NDArray[np.float64]  # where a band starts or ends: one value or per row


def period_label(period: date | str, grain: str) -> str:
    """A period's first day as people name it: ``Mar 2025``, ``Q1 2025``, ``2025``.

    >>> period_label("2025-04-01", "quarter")
    'Q2 2025'
    """
    day = pd.Timestamp(period)
    if grain == "quarter":
        return f"Q{day.quarter} {day.year}"
    return day.strftime(PERIOD_FORMATS.get(grain, "%d %b %Y"))


def statuses_drawn(data: pd.DataFrame) -> tuple[str, ...]:
    """The statuses in ``data``, in ``STATUS_COLORS`` order: a legend's entries."""
    present = set(data["status"].dropna()) if "status" in data else set()
    return tuple(s for s in STATUS_COLORS if s in present)


def status_color(statuses: tuple[str, ...]) -> alt.Color:
    """Colour by ``status`` with the fixed ``STATUS_COLORS`` mapping; the legend lists
    ``statuses`` (those drawn) only."""
    scale = alt.Scale(domain=list(statuses), range=[STATUS_COLORS[s] for s in statuses])
    return alt.Color("status:N", scale=scale, title="Status")


def status_shape(statuses: tuple[str, ...]) -> alt.Shape:
    """Shape by ``status`` with the fixed ``STATUS_SHAPES`` mapping (one legend with colour)."""
    scale = alt.Scale(domain=list(statuses), range=[STATUS_SHAPES[s] for s in statuses])
    return alt.Shape("status:N", scale=scale, title="Status")


TEXTS = ("actual", "target", "value", "low", "high", "last_year", "contribution", "rate", "mix")


def with_texts(data: pd.DataFrame, unit: str, currency: str) -> pd.DataFrame:
    """``data`` with ``<column>_text``: each value column as the tooltips show it (in the
    unit, thousands separated, ``—`` where missing: Vega-Lite would write ``null``)."""
    for column in TEXTS:
        if column in data:
            data[f"{column}_text"] = formats.texts(data[column], unit, currency=currency)
    if "attainment" in data:
        data["attainment_text"] = [formats.format_share(v) for v in data["attainment"]]
    return data


def value_axis(unit: str, currency: str, **options: Any) -> alt.Axis:
    """A value axis in the unit; a currency's labels start with the KPI set's symbol."""
    if unit != "currency":
        return alt.Axis(format=number_format(unit), **options)
    sign = json.dumps(formats.symbol(currency))  # a string literal of Vega's expressions
    label = f"(datum.value < 0 ? '-' : '') + {sign} + format(abs(datum.value), ',.0f')"
    return alt.Axis(labelExpr=label, **options)


def with_symbols(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``symbol``: each row's status symbol (``score.STATUS_SYMBOLS``)."""
    out = frame.copy()
    out["symbol"] = [score.STATUS_SYMBOLS.get(str(s), "") for s in out.get("status", [])]
    return out


Rows = Sequence[Mapping[str, Any]]  # records: one dict per KPI x category x period


def frame_of(rows: Rows, columns: list[str]) -> pd.DataFrame:
    """``columns`` of ``rows`` as a chart's data (a missing key is an empty column), with
    ``period`` and ``date`` (dates) as datetimes for Vega-Lite."""
    data = pd.DataFrame.from_records(
        [{c: row.get(c) for c in columns} for row in rows], columns=columns
    )
    for column in ("period", "date"):
        if column in data:
            data[column] = pd.to_datetime(data[column])
    for column in ("actual", "target", "attainment", "value", "low", "high"):
        if column in data:
            data[column] = data[column].astype("float64")
    return data


def period_axis(grain: str, period_format: str) -> alt.Axis:
    """A time axis with a tick per period at most, labels that would overlap left out."""
    unit_of_time, step = TICKS.get(grain, ("day", 1))
    return alt.Axis(
        format=period_format,
        tickCount=alt.TimeIntervalStep(interval=unit_of_time, step=step),
        labelOverlap=True,
    )


def value_tooltips(category_title: str, period_format: str | None) -> list:
    """Tooltips of a result row: category, period, actual, target, attainment, status (the
    values as ``_with_texts`` wrote them)."""
    tips = [alt.Tooltip("category:N", title=category_title)]
    if period_format:
        tips.append(alt.Tooltip("period:T", title="Period", format=period_format))
    return tips + [
        alt.Tooltip("actual_text:N", title="Actual"),
        alt.Tooltip("target_text:N", title="Target"),
        alt.Tooltip("attainment_text:N", title="Attainment"),
        alt.Tooltip("status:N", title="Status"),
    ]


def with_bands(rows: pd.DataFrame, direction: str, good: float, warning: float) -> pd.DataFrame:
    """Add where the off / at-risk / on-target ranges of each row's target start and end
    (``off_from``, ``off_to``, ``risk_from``, ...); the outer range ends past every bar."""
    target = rows["target"].to_numpy(dtype="float64")
    edges: dict[str, tuple[Edge, Edge]]
    with np.errstate(divide="ignore", invalid="ignore"):
        if direction == "lower":  # attainment = target / actual
            on, risk = target / good, target / warning
            edges = {"on": (0, on), "risk": (on, risk), "off": (risk, np.inf)}
        else:
            risk, on = target * warning, target * good
            edges = {"off": (0, risk), "risk": (risk, on), "on": (on, np.inf)}
    ends = np.concatenate([rows["actual"].to_numpy(dtype="float64"), edges["risk"][1]])
    ends = ends[np.isfinite(ends)]
    extent = float(ends.max()) * 1.25 if ends.size and ends.max() > 0 else 1.0
    out = rows.copy()
    for name, (start, end) in edges.items():
        out[f"{name}_from"] = np.where(np.isnan(target), np.nan, np.minimum(start, extent))
        out[f"{name}_to"] = np.where(np.isnan(target), np.nan, np.minimum(end, extent))
    return out


def to_json(spec: Spec) -> str:
    """``spec`` as plain Vega-Lite JSON, its datasets written out as rows."""
    datasets = {
        name: alt.utils.data.to_values(frame)["values"]
        for name, frame in spec.get("datasets", {}).items()
    }
    return json.dumps({**spec, "datasets": datasets})


def make_spec(
    build: Callable[..., alt.TopLevelMixin], datasets: dict[str, pd.DataFrame], *options
) -> Spec:
    """The chart ``build(*options)`` draws over named data slots, with ``datasets`` in them."""
    spec = json.loads(template_of(build, *options))
    spec["datasets"] = datasets
    return spec


@functools.lru_cache(maxsize=256)
def template_of(build: Callable[..., alt.TopLevelMixin], *options) -> str:
    """The JSON spec of ``build(*options)``, made by Altair once per shape. Not validated
    here (Altair's check against the Vega-Lite schema took 0.5-0.8 s of a fresh server's first
    dashboard): ``tests/test_charts.py`` validates every template shape instead."""
    spec = build(*options).to_dict(validate=False)
    spec.pop("config", None)  # Altair's default theme (a 300 px view): the charts size themselves
    return json.dumps(spec)
