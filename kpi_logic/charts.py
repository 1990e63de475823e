"""Charts over scored KPI records (``score.score_records``), never raw data rows.

Every builder takes a small aggregate (one record per category x period) and plain arguments
(``unit``, ``direction``, bands), so it does not depend on the KPI object. Titles made of user
text (a KPI name, a column name) go through ``text.plain_text``; Vega-Lite shows a title, axis
title, legend title and tooltip title as a literal string (it quotes them inside the
expressions it writes) and data values as data, so none of them runs or links. Statuses are drawn
in ``STATUS_COLORS`` everywhere, and every selection parameter has a fixed name.

A chart is a Vega-Lite spec whose ``datasets`` are DataFrames made here from the records
(the one place the charts' records become tables), as ``st.vega_lite_chart`` takes them
(``to_json`` gives plain Vega-Lite, e.g. for a PNG). Altair writes and validates each chart's
template once per shape (unit, titles, bands...) over named data slots; a call
fills the slots with its data, so redrawing a chart after a target move costs no Altair work.

Values are formatted by ``formats`` (re-exported here: ``charts.format_value``); tooltips
show those texts, so a missing value reads ``—``, never ``null``.
"""

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
from kpi_logic.formats import format_value as format_value
from kpi_logic.formats import number_format as number_format
from kpi_logic.text import plain_text

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
_BAND_OPACITY = 0.25
# A time axis ticks once per period at most (a year-grain trend never labels "2013 2013"):
# Vega's time interval of each grain, and how many of them make one period.
_TICKS: dict[str, tuple[Literal["day", "week", "month", "year"], int]] = {
    "day": ("day", 1),
    "week": ("week", 1),
    "month": ("month", 1),
    "quarter": ("month", 3),
    "year": ("year", 1),
}
_HEATMAP_LABELS_UP_TO = 24  # periods; past that a cell is too narrow for more than a symbol

Spec = dict[str, Any]  # Vega-Lite, with DataFrames as its datasets
_Edge = float | npt.NDArray[np.float64]  # where a band starts or ends: one value or per row


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


def _status_color(statuses: tuple[str, ...]) -> alt.Color:
    """Colour by ``status`` with the fixed ``STATUS_COLORS`` mapping; the legend lists
    ``statuses`` (those drawn) only."""
    scale = alt.Scale(domain=list(statuses), range=[STATUS_COLORS[s] for s in statuses])
    return alt.Color("status:N", scale=scale, title="Status")


def _status_shape(statuses: tuple[str, ...]) -> alt.Shape:
    """Shape by ``status`` with the fixed ``STATUS_SHAPES`` mapping (one legend with colour)."""
    scale = alt.Scale(domain=list(statuses), range=[STATUS_SHAPES[s] for s in statuses])
    return alt.Shape("status:N", scale=scale, title="Status")


_TEXTS = ("actual", "target", "value", "low", "high", "last_year", "contribution", "rate", "mix")


def with_texts(data: pd.DataFrame, unit: str, currency: str) -> pd.DataFrame:
    """``data`` with ``<column>_text``: each value column as the tooltips show it (in the
    unit, thousands separated, ``—`` where missing: Vega-Lite would write ``null``)."""
    for column in _TEXTS:
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


def _table(rows: Rows, columns: list[str]) -> pd.DataFrame:
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


def _period_axis(grain: str, period_format: str) -> alt.Axis:
    """A time axis with a tick per period at most, labels that would overlap left out."""
    unit_of_time, step = _TICKS.get(grain, ("day", 1))
    return alt.Axis(
        format=period_format,
        tickCount=alt.TimeIntervalStep(interval=unit_of_time, step=step),
        labelOverlap=True,
    )


def _value_tooltips(category_title: str, period_format: str | None) -> list:
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


def _bands(rows: pd.DataFrame, direction: str, good: float, warning: float) -> pd.DataFrame:
    """Add where the off / at-risk / on-target ranges of each row's target start and end
    (``off_from``, ``off_to``, ``risk_from``, ...); the outer range ends past every bar."""
    target = rows["target"].to_numpy(dtype="float64")
    edges: dict[str, tuple[_Edge, _Edge]]
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


def _spec(
    build: Callable[..., alt.TopLevelMixin], datasets: dict[str, pd.DataFrame], *options
) -> Spec:
    """The chart ``build(*options)`` draws over named data slots, with ``datasets`` in them."""
    spec = json.loads(_template(build, *options))
    spec["datasets"] = datasets
    return spec


@functools.lru_cache(maxsize=256)
def _template(build: Callable[..., alt.TopLevelMixin], *options) -> str:
    """The JSON spec of ``build(*options)``, made and validated by Altair once per shape."""
    spec = build(*options).to_dict()
    spec.pop("config", None)  # Altair's default theme (a 300 px view): the charts size themselves
    return json.dumps(spec)


def bullet_chart(
    rows: Rows,
    *,
    unit: str,
    direction: str,
    good: float,
    warning: float,
    selection_name: str = "category_pick",
    category_title: str = "Category",
    title: str = "Actual against target",
    currency: str = "",
) -> Spec:
    """One horizontal bullet per category for one period: off / at-risk / on-target ranges
    of each category's target in muted status colours, the actual as a bar coloured by
    status and labelled with its status symbol and value (``label``, in the unit), the
    target as a tick. Clicking a bar selects its ``category`` in the point selection
    ``selection_name`` (for ``st.vega_lite_chart(on_select="rerun")``).
    """
    columns = ["category", "period", "actual", "target", "attainment", "status"]
    data = with_symbols(_bands(_table(rows, columns), direction, good, warning))
    data = with_texts(data, unit, currency)
    data["label"] = [
        f"{symbol} {formats.format_value(actual, unit, currency=currency)}".strip()
        for symbol, actual in zip(data["symbol"], data["actual"], strict=True)
    ]
    periods: np.ndarray | list[np.datetime64] = (
        data["period"].dropna().unique() if "period" in data else []
    )
    subtitle = f"{pd.Timestamp(periods[0]):%b %Y}" if len(periods) == 1 else None
    options = (subtitle, unit, currency, statuses_drawn(data), selection_name)
    options += (plain_text(category_title), plain_text(title))
    return _spec(_bullet, {"bullet": data}, *options)


def _bullet(
    subtitle: str | None,
    unit: str,
    currency: str,
    statuses: tuple[str, ...],
    selection_name: str,
    category_title: str,
    title: str,
) -> alt.LayerChart | alt.FacetChart:
    pick = alt.selection_point(name=selection_name, fields=["category"])
    tooltip = _value_tooltips(category_title, None)
    base = alt.Chart(alt.NamedData(name="bullet")).encode(
        y=alt.Y("category:N", title=category_title, sort=None),
        tooltip=tooltip,
    )
    band_layers = [
        base.mark_bar(color=STATUS_COLORS[status], opacity=_BAND_OPACITY).encode(
            x=alt.X(f"{name}_from:Q"), x2=alt.X2(f"{name}_to:Q")
        )
        for name, status in (
            ("off", score.OFF_TARGET),
            ("risk", score.AT_RISK),
            ("on", score.ON_TARGET),
        )
    ]
    actual = (
        base.mark_bar(height=alt.RelativeBandSize(0.45))
        .encode(
            x=alt.X("actual:Q", title="Actual", axis=value_axis(unit, currency)),
            color=_status_color(statuses),
            opacity=alt.when(pick).then(alt.value(1.0)).otherwise(alt.value(0.45)),
        )
        .add_params(pick)
    )
    target = base.mark_tick(color=TARGET_COLOR, thickness=3).encode(
        x=alt.X("target:Q"), size=alt.value(22)
    )
    symbols = base.mark_text(align="left", dx=6, fontSize=13, color=LABEL_COLOR).encode(
        x=alt.X("actual:Q"), text=alt.Text("label:N")
    )
    subtitle_text = alt.Undefined if subtitle is None else subtitle
    return alt.layer(*band_layers, actual, target, symbols).properties(
        title=alt.TitleParams(title, subtitle=subtitle_text, subtitleColor=TARGET_COLOR),
        width="container",
        height=alt.Step(34),
    )


def trend_chart(
    series: Rows,
    *,
    unit: str,
    target_line: Rows | None = None,
    projection: Rows | None = None,
    grain: str = "month",
    title: str = "Trend",
    interval: Rows | None = None,
    notes: Rows | None = None,
    currency: str = "",
) -> Spec:
    """Actual per period (a line, points coloured and shaped by status), the target as a
    dashed step line (``target_line``: ``period, target``), the pace projection to the due
    date as a dotted line (``projection``: ``date, value``), the forecast's 80% interval as
    a band (``interval``: ``period, value, low, high``) and check-in notes as marks at their
    date with their text on hover (``notes``: ``date, note, author``). With more than one
    ``category`` in ``series`` there is a line per category, coloured by category.
    """
    data = _table(series, ["category", "period", "actual", "target", "attainment", "status"])
    data = with_texts(data[data["period"].notna()].reset_index(drop=True), unit, currency)
    by_category = "category" in data and data["category"].nunique() > 1
    if by_category:
        data["category"] = data["category"].fillna("All")  # the all-categories row
    datasets = {"trend": data}
    if target_line is not None:
        datasets["targets"] = _table(target_line, ["period", "target"]).dropna()
    if projection is not None:
        datasets["projection"] = _table(projection, ["date", "value"])
    if interval is not None:
        datasets["interval"] = _table(interval, ["period", "value", "low", "high"])
    if notes:
        datasets["notes"] = _table(notes, ["date", "note", "author"])
    for name in ("targets", "projection", "interval"):
        if name in datasets:
            datasets[name] = with_texts(datasets[name], unit, currency)
    layers = tuple(name in datasets for name in ("targets", "projection", "interval", "notes"))
    drawn = () if by_category else statuses_drawn(data)
    options = (*layers, unit, currency, drawn, grain, plain_text(title))
    return _spec(_trend, datasets, by_category, *options)


def _trend(
    by_category: bool,
    targets: bool,
    projection: bool,
    interval: bool,
    notes: bool,
    unit: str,
    currency: str,
    statuses: tuple[str, ...],
    grain: str,
    title: str,
) -> alt.LayerChart | alt.FacetChart:
    period_format = PERIOD_FORMATS.get(grain, "%d %b %Y")
    tooltip = _value_tooltips("Category", period_format)
    if not by_category:
        tooltip = tooltip[1:]
    axis = _period_axis(grain, period_format)
    base = alt.Chart(alt.NamedData(name="trend")).encode(
        x=alt.X("period:T", title="Period", axis=axis),
        y=alt.Y(
            "actual:Q",
            title="Actual",
            axis=value_axis(unit, currency),
            scale=alt.Scale(zero=False),
        ),
        tooltip=tooltip,
    )
    if by_category:
        color = alt.Color("category:N", title="Category")
        layers = [base.mark_line(point=True).encode(color=color)]
    else:
        points = base.mark_point(filled=True, size=70, opacity=1).encode(
            color=_status_color(statuses), shape=_status_shape(statuses)
        )
        layers = [base.mark_line(color=ACTUAL_COLOR), points]
    if targets:
        layers.append(
            alt.Chart(alt.NamedData(name="targets"))
            .mark_line(color=TARGET_COLOR, strokeDash=[6, 4], interpolate="step-after")
            .encode(
                x=alt.X("period:T"),
                y=alt.Y("target:Q"),
                tooltip=[
                    alt.Tooltip("period:T", title="Period", format=period_format),
                    alt.Tooltip("target_text:N", title="Target"),
                ],
            )
        )
    if projection:
        layers.append(
            alt.Chart(alt.NamedData(name="projection"))
            .mark_line(color=ACTUAL_COLOR, strokeDash=[2, 3], strokeWidth=2, point=True)
            .encode(
                x=alt.X("date:T"),
                y=alt.Y("value:Q"),
                tooltip=[
                    alt.Tooltip("date:T", title="Date", format="%d %b %Y"),
                    alt.Tooltip("value_text:N", title="Projected"),
                ],
            )
        )
    if interval:
        layers += _interval_layers(period_format)
    if notes:
        layers += _note_layers()
    return alt.layer(*layers).properties(title=title, width="container", height=280)


def _interval_layers(period_format: str) -> list[alt.Chart]:
    """The forecast's 80% interval as a band, its projected value as a dashed line."""
    base = alt.Chart(alt.NamedData(name="interval")).encode(
        x=alt.X("period:T"),
        tooltip=[
            alt.Tooltip("period:T", title="Period", format=period_format),
            alt.Tooltip("value_text:N", title="Forecast"),
            alt.Tooltip("low_text:N", title="80% interval from"),
            alt.Tooltip("high_text:N", title="80% interval to"),
        ],
    )
    band = base.mark_area(color=ACTUAL_COLOR, opacity=0.18).encode(
        y=alt.Y("low:Q"), y2=alt.Y2("high:Q")
    )
    line = base.mark_line(color=ACTUAL_COLOR, strokeDash=[4, 4], point=True).encode(
        y=alt.Y("value:Q")
    )
    return [band, line]


def _note_layers() -> list[alt.Chart]:
    """Check-in notes: a rule at each note's date and a mark at the top with its text."""
    base = alt.Chart(alt.NamedData(name="notes")).encode(
        x=alt.X("date:T"),
        tooltip=[
            alt.Tooltip("date:T", title="Note of", format="%d %b %Y"),
            alt.Tooltip("author:N", title="By"),
            alt.Tooltip("note:N", title="Note"),
        ],
    )
    rule = base.mark_rule(color=TARGET_COLOR, strokeDash=[1, 3], strokeWidth=1.5)
    flag = base.mark_point(shape="diamond", filled=True, size=110, color=LABEL_COLOR).encode(
        y=alt.value(6)
    )
    return [rule, flag]


def heatmap(
    rows: Rows,
    *,
    unit: str = "number",
    good: float = 1.0,
    warning: float = 0.9,
    grain: str = "month",
    category_title: str = "Category",
    title: str = "Attainment by category and period",
    currency: str = "",
) -> Spec:
    """Category x period cells labelled with their status symbol and attainment % (the
    symbol alone past ``_HEATMAP_LABELS_UP_TO`` periods, where a cell is narrow), coloured by
    where it falls against the bands (below ``warning``, up to ``good``, from ``good``: the
    status colours); cells without attainment are grey. Period labels that would overlap are
    left out (every period stays in the tooltip and the table).
    """
    data = _table(rows, ["category", "period", "actual", "target", "attainment", "status"])
    data = with_texts(data, unit, currency)
    narrow = data["period"].nunique() > _HEATMAP_LABELS_UP_TO
    data["label"] = [
        (score.STATUS_SYMBOLS.get(str(s), "") + ("" if narrow else f" {a:.0%}"))
        if pd.notna(a)
        else ""
        for s, a in zip(data["status"], data["attainment"], strict=True)
    ]
    options = (good, warning, grain, plain_text(category_title), plain_text(title))
    return _spec(_heatmap, {"heatmap": data}, *options)


def _heatmap(
    good: float, warning: float, grain: str, category_title: str, title: str
) -> alt.LayerChart | alt.FacetChart:
    period_format = PERIOD_FORMATS.get(grain, "%d %b %Y")
    scale = alt.Scale(
        type="threshold",
        domain=[warning, good],
        range=[STATUS_COLORS[s] for s in (score.OFF_TARGET, score.AT_RISK, score.ON_TARGET)],
    )
    color = alt.Color(
        "attainment:Q", scale=scale, title="Attainment", legend=alt.Legend(format=".0%")
    )
    base = alt.Chart(alt.NamedData(name="heatmap")).encode(
        x=alt.X(
            "period:O",
            timeUnit="yearmonthdate",
            title="Period",
            axis=alt.Axis(format=period_format, labelAngle=-45, labelOverlap="greedy"),
        ),
        y=alt.Y("category:N", title=category_title),
        tooltip=_value_tooltips(category_title, period_format),
    )
    cells = base.mark_rect().encode(color=color)
    missing = base.mark_rect(color=STATUS_COLORS[score.NO_DATA]).transform_filter(
        "!isValid(datum.attainment)"
    )
    labels = (
        base.mark_text(color=LABEL_COLOR, fontSize=10)
        .encode(text=alt.Text("label:N"))
        .transform_filter("isValid(datum.attainment)")
    )
    return alt.layer(cells, missing, labels).properties(
        title=title, width="container", height=alt.Step(30)
    )


def cumulative_chart(
    rows: Rows,
    *,
    unit: str,
    grain: str = "month",
    title: str = "Cumulative",
    currency: str = "",
) -> Spec:
    """Running totals through a time window (``windows.cumulative``: ``period, actual,
    target, last_year``): the actual to date as a solid line, the target curve dashed, last
    year faint."""
    data = _table(rows, ["period", "actual", "target", "last_year"])
    data["last_year"] = data["last_year"].astype("float64")
    data = with_texts(data, unit, currency)
    options = (unit, currency, grain, plain_text(title))
    return _spec(_cumulative, {"cumulative": data}, *options)


def _cumulative(
    unit: str, currency: str, grain: str, title: str
) -> alt.LayerChart | alt.FacetChart:
    period_format = PERIOD_FORMATS.get(grain, "%d %b %Y")
    axis = _period_axis(grain, period_format)
    tips = [
        alt.Tooltip("period:T", title="Period", format=period_format),
        alt.Tooltip("actual_text:N", title="Actual to date"),
        alt.Tooltip("target_text:N", title="Target to date"),
        alt.Tooltip("last_year_text:N", title="Last year to date"),
    ]
    base = alt.Chart(alt.NamedData(name="cumulative")).encode(
        x=alt.X("period:T", title="Period", axis=axis), tooltip=tips
    )
    last_year = base.mark_line(color=TARGET_COLOR, opacity=0.35, strokeWidth=1.5).encode(
        y=alt.Y("last_year:Q", title="To date", axis=value_axis(unit, currency))
    )
    target = base.mark_line(color=TARGET_COLOR, strokeDash=[6, 4]).encode(y=alt.Y("target:Q"))
    actual = base.mark_line(color=ACTUAL_COLOR, point=True).encode(y=alt.Y("actual:Q"))
    return alt.layer(last_year, target, actual).properties(
        title=alt.TitleParams(
            title,
            subtitle="solid: actual, dashed: target, faint: last year",
            subtitleColor=TARGET_COLOR,
        ),
        width="container",
        height=260,
    )
