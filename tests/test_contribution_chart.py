"""The contribution chart, the trend's interval band and note marks, status shapes."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import vl_convert

from kpi_logic import charts, score
from kpi_logic.contribution_chart import contribution_chart


def rows_of(spec: charts.Spec, name: str) -> list[dict]:
    return json.loads(charts.to_json(spec))["datasets"][name]


def test_contribution_chart_keeps_order_and_says_helps_or_hurts() -> None:
    lines = pd.DataFrame(
        {
            "category": ["West", "(unallocated)", "East"],
            "actual": [800.0, 0.0, 1100.0],
            "target": [1000.0, -50.0, 1000.0],
            "gap": [-200.0, 50.0, 100.0],
            "contribution": [-200.0, 50.0, 100.0],
        }
    )
    spec = contribution_chart(lines.to_dict("records"), unit="currency", direction="higher")
    data = rows_of(spec, "contributions")
    assert [r["category"] for r in data] == ["West", "(unallocated)", "East"]
    assert [r["effect"] for r in data] == ["hurts", "helps", "helps"]
    assert data[0]["label"] == "-$200 hurts"
    bars = spec["layer"][0]
    assert bars["encoding"]["y"]["sort"] is None  # largest first, as given
    assert bars["encoding"]["color"]["scale"]["range"][:2] == [
        charts.STATUS_COLORS[score.ON_TARGET],
        charts.STATUS_COLORS[score.OFF_TARGET],
    ]
    lower = contribution_chart(lines.to_dict("records"), unit="currency", direction="lower")
    assert [r["effect"] for r in rows_of(lower, "contributions")] == ["helps", "hurts", "hurts"]
    svg = vl_convert.vegalite_to_svg(charts.to_json(spec))
    assert "hurts" in svg


def test_trend_draws_interval_notes_and_status_shapes() -> None:
    series = pd.DataFrame(
        {
            "category": [None, None],
            "period": [date(2024, 1, 1), date(2024, 2, 1)],
            "actual": [10.0, 12.0],
            "target": [11.0, 11.0],
            "attainment": [10 / 11, 12 / 11],
            "status": [score.AT_RISK, score.ON_TARGET],
        }
    )
    interval = pd.DataFrame(
        {
            "period": [date(2024, 2, 1), date(2024, 4, 1)],
            "value": [12.0, 14.0],
            "low": [12.0, 11.0],
            "high": [12.0, 17.0],
        }
    )
    notes = pd.DataFrame(
        {"date": [date(2024, 2, 10)], "note": ["<b>West</b> promo"], "author": ["ann"]}
    )
    spec = charts.trend_chart(
        series.to_dict("records"),
        unit="number",
        interval=interval.to_dict("records"),
        notes=notes.to_dict("records"),
    )
    assert rows_of(spec, "interval")[1]["high"] == 17.0
    assert rows_of(spec, "notes")[0]["note"] == "<b>West</b> promo"  # data, not markup
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
             for layer in spec["layer"]]  # fmt: skip
    assert "area" in marks
    assert "rule" in marks
    points = spec["layer"][1]["encoding"]
    drawn = (score.ON_TARGET, score.AT_RISK)  # the legend: the statuses drawn, in order
    assert points["shape"]["scale"]["domain"] == list(drawn)
    assert points["shape"]["scale"]["range"] == [charts.STATUS_SHAPES[s] for s in drawn]
    svg = vl_convert.vegalite_to_svg(charts.to_json(spec))
    assert "<svg" in svg
    plain = charts.trend_chart(series.to_dict("records"), unit="number")
    assert "interval" not in plain["datasets"]
    assert "notes" not in plain["datasets"]
