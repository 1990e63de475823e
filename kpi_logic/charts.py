"""Charts over scored KPI records (``score.score_records``), never raw data rows.

Every builder takes a small aggregate (one record per category x period) and plain arguments
(``unit``, ``direction``, bands), so it does not depend on the KPI object. Titles made of user
text (a KPI name, a column name) go through ``text.plain_text``; Vega-Lite shows a title, axis
title, legend title and tooltip title as a literal string (it quotes them inside the
expressions it writes) and data values as data, so none of them runs or links. Statuses are drawn
in ``STATUS_COLORS`` everywhere, and every selection parameter has a fixed name.

A chart is a Vega-Lite spec whose ``datasets`` are DataFrames made from the records by
``chart_parts`` (the one place the charts' records become tables), as
``st.vega_lite_chart`` takes them (``to_json`` gives plain Vega-Lite, e.g. for a PNG).
Altair writes each chart's template once per shape (unit, titles, bands...)
over named data slots; a call fills the slots with its data, so redrawing a chart after a
target move costs no Altair work.

Values are formatted by ``formats`` (re-exported here: ``charts.format_value``); tooltips
show those texts, so a missing value reads ``—``, never ``null``.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from kpi_logic import formats, score
from kpi_logic.chart_parts import ACTUAL_COLOR as ACTUAL_COLOR
from kpi_logic.chart_parts import (
    BAND_OPACITY,
    frame_of,
    make_spec,
    period_axis,
    status_color,
    status_shape,
    statuses_drawn,
    value_axis,
    value_tooltips,
    with_bands,
    with_symbols,
    with_texts,
)
from kpi_logic.chart_parts import LABEL_COLOR as LABEL_COLOR
from kpi_logic.chart_parts import PERIOD_FORMATS as PERIOD_FORMATS
from kpi_logic.chart_parts import STATUS_COLORS as STATUS_COLORS
from kpi_logic.chart_parts import STATUS_SHAPES as STATUS_SHAPES
from kpi_logic.chart_parts import TARGET_COLOR as TARGET_COLOR
from kpi_logic.chart_parts import Rows as Rows
from kpi_logic.chart_parts import Spec as Spec
from kpi_logic.chart_parts import period_label as period_label
from kpi_logic.chart_parts import to_json as to_json
from kpi_logic.formats import format_value as format_value
from kpi_logic.formats import number_format as number_format
from kpi_logic.text import plain_text

_HEATMAP_LABELS_UP_TO = 24  # periods; past that a cell is too narrow for more than a symbol


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
    data = with_symbols(with_bands(frame_of(rows, columns), direction, good, warning))
    data = with_texts(data, unit, currency)
    data["label"] = [
        f"{symbol} {formats.format_value(actual, unit, currency=currency)}".strip()
        for symbol, actual in zip(data["symbol"], data["actual"], strict=True)
    ]
    periods: np.ndarray | list[np.datetime64] = (
        data["period"].dropna().unique() if "period" in data else []
    )
    subtitle = f"{pd.Timestamp(periods[0]):%b %Y}" if len(periods) == 1 else None
    drawn, titles = statuses_drawn(data), (plain_text(category_title), plain_text(title))
    return make_spec(
        _bullet, {"bullet": data}, subtitle, unit, currency, drawn, selection_name, *titles
    )


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
    tooltip = value_tooltips(category_title, None)
    base = alt.Chart(alt.NamedData(name="bullet")).encode(
        y=alt.Y("category:N", title=category_title, sort=None),
        tooltip=tooltip,
    )
    band_layers = [
        base.mark_bar(color=STATUS_COLORS[status], opacity=BAND_OPACITY).encode(
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
            color=status_color(statuses),
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
    data = frame_of(series, ["category", "period", "actual", "target", "attainment", "status"])
    data = with_texts(data[data["period"].notna()].reset_index(drop=True), unit, currency)
    by_category = "category" in data and data["category"].nunique() > 1
    if by_category:
        data["category"] = data["category"].fillna("All")  # the all-categories row
    datasets = {"trend": data}
    if target_line is not None:
        datasets["targets"] = frame_of(target_line, ["period", "target"]).dropna()
    if projection is not None:
        datasets["projection"] = frame_of(projection, ["date", "value"])
    if interval is not None:
        datasets["interval"] = frame_of(interval, ["period", "value", "low", "high"])
    if notes:
        datasets["notes"] = frame_of(notes, ["date", "note", "author"])
    for name in ("targets", "projection", "interval"):
        if name in datasets:
            datasets[name] = with_texts(datasets[name], unit, currency)
    layers = tuple(name in datasets for name in ("targets", "projection", "interval", "notes"))
    drawn = () if by_category else statuses_drawn(data)
    options = (*layers, unit, currency, drawn, grain, plain_text(title))
    return make_spec(_trend, datasets, by_category, *options)


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
    tooltip = value_tooltips("Category", period_format)
    if not by_category:
        tooltip = tooltip[1:]
    axis = period_axis(grain, period_format)
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
            color=status_color(statuses), shape=status_shape(statuses)
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
    data = frame_of(rows, ["category", "period", "actual", "target", "attainment", "status"])
    data = with_texts(data, unit, currency)
    narrow = data["period"].nunique() > _HEATMAP_LABELS_UP_TO
    data["label"] = [
        (score.STATUS_SYMBOLS.get(str(s), "") + ("" if narrow else f" {a:.0%}"))
        if pd.notna(a)
        else ""
        for s, a in zip(data["status"], data["attainment"], strict=True)
    ]
    options = (good, warning, grain, plain_text(category_title), plain_text(title))
    return make_spec(_heatmap, {"heatmap": data}, *options)


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
        tooltip=value_tooltips(category_title, period_format),
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
    data = frame_of(rows, ["period", "actual", "target", "last_year"])
    data["last_year"] = data["last_year"].astype("float64")
    data = with_texts(data, unit, currency)
    options = (unit, currency, grain, plain_text(title))
    return make_spec(_cumulative, {"cumulative": data}, *options)


def _cumulative(
    unit: str, currency: str, grain: str, title: str
) -> alt.LayerChart | alt.FacetChart:
    period_format = PERIOD_FORMATS.get(grain, "%d %b %Y")
    axis = period_axis(grain, period_format)
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
