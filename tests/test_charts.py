"""Charts over hand-built scored records: the spec carries the aggregate only, statuses keep
their colours, tooltips are formatted, the selection is named, and Vega-Lite renders it."""

from __future__ import annotations

import json
import re
from datetime import date

import jsonschema
import numpy as np
import pandas as pd
import pytest
import vl_convert
from altair.vegalite.v6.schema import core as vl_schema

from kpi_logic import chart_parts, charts, contribution_chart, score, summary

DEC = date(2024, 12, 1)
MONTHS = [date(2024, m, 1) for m in (9, 10, 11, 12)]


def scored(rows: list[tuple], kpi: str = "Revenue") -> pd.DataFrame:
    """A ``score.score``-shaped frame from (category, period, actual, target, status)."""
    frame = pd.DataFrame(rows, columns=["category", "period", "actual", "target", "status"])
    frame.insert(0, "kpi", kpi)
    frame["attainment"] = frame["actual"] / frame["target"]
    frame["previous"] = frame["change"] = frame["change_pct"] = np.nan
    frame["as_of"] = date(2024, 12, 31)  # a column the charts must leave out
    return frame


def records(frame: pd.DataFrame) -> list[dict]:
    """A test frame's rows as the engine's records (None where a category or period is missing)."""
    return [
        {k: None if k in ("category", "period") and pd.isna(v) else v for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


@pytest.fixture
def one_period() -> pd.DataFrame:
    return scored(
        [
            ("East", DEC, 950.0, 1000.0, "at risk"),
            ("North", DEC, 1200.0, 1000.0, "on target"),
            ("South", DEC, 700.0, 1000.0, "off target"),
            ("West", DEC, 800.0, np.nan, "no target"),
        ]
    )


@pytest.fixture
def totals() -> pd.DataFrame:
    return scored(
        [
            (None, MONTHS[0], 3000.0, 3500.0, "off target"),
            (None, MONTHS[1], 3400.0, 3500.0, "at risk"),
            (None, MONTHS[2], np.nan, 3500.0, "no data"),
            (None, MONTHS[3], 3900.0, 3500.0, "on target"),
        ]
    )


@pytest.fixture
def cells() -> pd.DataFrame:
    statuses = {0.8: "off target", 0.95: "at risk", 1.1: "on target"}
    rows = [
        (region, month, 1000.0 * ratio, 1000.0, statuses[ratio])
        for region, ratio in (("East", 0.8), ("North", 1.1), ("South", 0.95))
        for month in MONTHS
    ]
    return scored(rows)


def datasets(chart: charts.Spec) -> list[list[dict]]:
    """The data sets of a chart, as Vega-Lite gets them outside Streamlit."""
    return list(json.loads(charts.to_json(chart))["datasets"].values())


def layers(chart: charts.Spec) -> list[dict]:
    return chart["layer"]


def tooltip_formats(layer: dict) -> dict[str, str | None]:
    return {t["field"]: t.get("format") for t in layer["encoding"]["tooltip"]}


def tooltip_titles(layer: dict) -> dict[str, str]:
    return {t["field"]: t["title"] for t in layer["encoding"]["tooltip"]}


def assert_status_colors(encoding: dict, drawn: list[str]) -> None:
    """Status colours: the fixed colour of each status drawn; the legend lists those only."""
    order = ["on target", "at risk", "off target", "no target", "no data"]
    assert encoding["field"] == "status"
    assert encoding["scale"]["domain"] == sorted(set(drawn), key=order.index)
    assert encoding["scale"]["range"] == [
        charts.STATUS_COLORS[s] for s in encoding["scale"]["domain"]
    ]


def test_status_colors_cover_every_status() -> None:
    assert list(charts.STATUS_COLORS) == [
        "on target",
        "at risk",
        "off target",
        "no target",
        "no data",
    ]
    assert len(set(charts.STATUS_COLORS.values())) == 5


def test_bullet_data_is_the_aggregate(one_period: pd.DataFrame) -> None:
    chart = charts.bullet_chart(
        records(one_period), unit="currency", direction="higher", good=1, warning=0.9
    )
    (data,) = datasets(chart)
    assert len(data) == 4
    assert [r["category"] for r in data] == ["East", "North", "South", "West"]
    assert [r["actual"] for r in data] == [950.0, 1200.0, 700.0, 800.0]
    assert [r["target"] for r in data] == [1000.0, 1000.0, 1000.0, None]
    assert not {"kpi", "as_of", "previous"} & set(data[0])


def test_bullet_bands_targets_colours_and_tooltips(one_period: pd.DataFrame) -> None:
    chart = charts.bullet_chart(
        records(one_period), unit="currency", direction="higher", good=1, warning=0.9
    )
    (data,) = datasets(chart)
    east = data[0]
    assert (east["off_from"], east["off_to"]) == (0, 900.0)
    assert (east["risk_from"], east["risk_to"]) == (900.0, 1000.0)
    assert east["on_from"] == 1000.0
    assert east["on_to"] >= 1200.0
    assert data[3]["on_from"] is None  # no target, no bands
    bands, actual, target = layers(chart)[:3], layers(chart)[3], layers(chart)[4]
    assert [b["mark"]["color"] for b in bands] == [
        charts.STATUS_COLORS[s] for s in ("off target", "at risk", "on target")
    ]
    assert actual["encoding"]["x"]["field"] == "actual"
    assert_status_colors(actual["encoding"]["color"], list(one_period["status"]))
    assert target["mark"]["type"] == "tick"
    assert target["encoding"]["x"]["field"] == "target"
    titles = tooltip_titles(actual)
    assert titles == {
        "category": "Category",
        "actual_text": "Actual",
        "target_text": "Target",
        "attainment_text": "Attainment",
        "status": "Status",
    }
    # the tooltips' texts: in the unit, thousands separated, a dash where a value is missing
    assert [r["actual_text"] for r in data] == [f"${v:,.0f}" for v in one_period["actual"]]
    assert [r["target_text"] for r in data] == ["$1,000", "$1,000", "$1,000", "—"]
    assert [r["attainment_text"] for r in data] == ["95%", "120%", "70%", "—"]


def test_bullet_bands_when_lower_is_better(one_period: pd.DataFrame) -> None:
    chart = charts.bullet_chart(
        records(one_period), unit="number", direction="lower", good=1, warning=0.8
    )
    east = datasets(chart)[0][0]
    assert (east["on_from"], east["on_to"]) == (0, 1000.0)
    assert (east["risk_from"], east["risk_to"]) == (1000.0, 1250.0)
    assert east["off_from"] == 1250.0
    assert east["off_to"] > 1250.0


def test_bullet_selection_is_named(one_period: pd.DataFrame) -> None:
    spec = charts.bullet_chart(
        records(one_period), unit="number", direction="higher", good=1, warning=0.9
    )
    (param,) = spec["params"]
    assert param["name"] == "category_pick"
    assert param["select"] == {"type": "point", "fields": ["category"]}
    other = charts.bullet_chart(
        records(one_period),
        unit="number",
        direction="higher",
        good=1,
        warning=0.9,
        selection_name="pick",
    )
    assert other["params"][0]["name"] == "pick"
    assert spec["title"]["text"] == "Actual against target"
    assert spec["title"]["subtitle"] == "Dec 2024"


def test_trend_layers(totals: pd.DataFrame) -> None:
    projection = pd.DataFrame({"date": [date(2024, 12, 20), DEC.replace(day=31)], "value": [1, 2]})
    chart = charts.trend_chart(
        records(totals), unit="percent", target_line=records(totals), projection=records(projection)
    )
    series, targets, projected = datasets(chart)
    assert len(series) == 4
    assert [r["actual"] for r in series] == [3000.0, 3400.0, None, 3900.0]
    assert series[0]["period"].startswith("2024-09-01")
    assert [r["target"] for r in targets] == [3500.0] * 4
    assert [r["value"] for r in projected] == [1, 2]
    line, points, target, pace = layers(chart)
    assert_status_colors(points["encoding"]["color"], list(totals["status"]))
    assert target["mark"]["strokeDash"]
    assert target["encoding"]["y"]["field"] == "target"
    assert pace["mark"]["strokeDash"]
    assert pace["encoding"]["y"]["field"] == "value"
    assert tooltip_titles(points)["actual_text"] == "Actual"
    percent = [f"{v * 100:,.1f}%" if v == v else "—" for v in totals["actual"]]
    assert [r["actual_text"] for r in series] == percent  # "300,000.0%"... and a dash
    assert line["encoding"]["y"]["axis"]["format"] == ".0%"


def test_trend_colours_categories(cells: pd.DataFrame) -> None:
    total = scored([(None, month, 3000.0, np.nan, "no target") for month in MONTHS])
    chart = charts.trend_chart(records(pd.concat([total, cells])), unit="number")
    (series,) = datasets(chart)
    assert len(series) == 16
    assert {r["category"] for r in series} == {"All", "East", "North", "South"}
    (line,) = layers(chart)
    assert line["encoding"]["color"]["field"] == "category"
    assert "category" in tooltip_formats(line)


def test_heatmap(cells: pd.DataFrame) -> None:
    cells.loc[0, "attainment"] = np.nan
    chart = charts.heatmap(records(cells), unit="currency", good=1.0, warning=0.9)
    (data,) = datasets(chart)
    assert len(data) == 3 * 4  # categories x periods, no more
    assert [r["target"] for r in data] == [1000.0] * 12
    rects, missing, labels = layers(chart)
    color = rects["encoding"]["color"]
    assert color["scale"]["type"] == "threshold"
    assert color["scale"]["domain"] == [0.9, 1.0]
    assert color["scale"]["range"] == [
        charts.STATUS_COLORS[s] for s in ("off target", "at risk", "on target")
    ]
    assert missing["mark"]["color"] == charts.STATUS_COLORS["no data"]
    assert labels["encoding"]["text"] == {"field": "label", "type": "nominal"}
    by_cell = {(r["category"], r["attainment"]): r["label"] for r in data}
    for (_, rate), label in by_cell.items():  # the status symbol, then the attainment
        assert label == "" if rate is None else label.endswith(f" {rate:.0%}")
    assert {r["label"][0] for r in data if r["label"]} <= set(score.STATUS_SYMBOLS.values())
    assert tooltip_titles(rects)["actual_text"] == "Actual"
    assert {r["actual_text"] for r in data} == {f"${1000 * x:,.0f}" for x in (0.8, 1.1, 0.95)}


def test_charts_of_one_shape_share_a_template_but_not_their_data(
    one_period: pd.DataFrame,
) -> None:
    """A second chart of the same shape carries its own data, and changing one chart's spec
    changes no other."""
    first = charts.bullet_chart(
        records(one_period), unit="number", direction="higher", good=1, warning=0.9
    )
    doubled = one_period.assign(target=one_period["target"] * 2)
    second = charts.bullet_chart(
        records(doubled), unit="number", direction="higher", good=1, warning=0.9
    )
    assert [r["target"] for r in datasets(first)[0]] == [1000.0, 1000.0, 1000.0, None]
    assert [r["target"] for r in datasets(second)[0]] == [2000.0, 2000.0, 2000.0, None]
    assert {k: v for k, v in first.items() if k != "datasets"} == {
        k: v for k, v in second.items() if k != "datasets"
    }
    first["layer"][0]["mark"]["color"] = "black"
    third = charts.bullet_chart(
        records(one_period), unit="number", direction="higher", good=1, warning=0.9
    )
    assert third["layer"][0]["mark"]["color"] == charts.STATUS_COLORS["off target"]
    assert second["layer"][0]["mark"]["color"] == charts.STATUS_COLORS["off target"]


@pytest.mark.parametrize("kind", ["bullet", "trend", "heatmap"])
def test_charts_render_to_png(kind, one_period, totals, cells) -> None:
    chart = {
        "bullet": lambda: charts.bullet_chart(
            records(one_period), unit="currency", direction="higher", good=1, warning=0.9
        ),
        "trend": lambda: charts.trend_chart(
            records(totals),
            unit="currency",
            target_line=records(totals),
            projection=[{"date": date(2024, 12, 31), "value": 4000.0}],
        ),
        "heatmap": lambda: charts.heatmap(records(cells), unit="currency"),
    }[kind]()
    png = vl_convert.vegalite_to_png(charts.to_json(chart))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 2000


@pytest.mark.parametrize(
    ("value", "unit", "signed", "expected"),
    [
        (1_234_567, "currency", False, "$1.2M"),
        (2_500_000_000, "currency", False, "$2.5B"),
        (45_600, "currency", False, "$45.6K"),
        (999_999, "number", False, "1.0M"),
        (1234, "currency", False, "$1,234"),
        (87.69, "currency", False, "$87.69"),
        (-2500, "currency", True, "-$2,500"),
        (0.125, "percent", False, "12.5%"),
        (0.012, "percent", True, "+1.2 pp"),
        (-0.003, "percent", True, "-0.3 pp"),
        (1234, "number", False, "1,234"),
        (4.2, "number", False, "4.2"),
        (4.214, "number", False, "4.21"),
        (0, "number", True, "0"),
        (float("nan"), "currency", False, "—"),
        (None, "percent", False, "—"),
        (float("inf"), "number", False, "—"),
    ],
)
def test_format_value(value, unit, signed, expected) -> None:
    assert charts.format_value(value, unit, signed=signed) == expected


def test_number_format() -> None:
    """d3 formats of the value axes (a currency's symbol comes from the KPI set)."""
    assert charts.number_format("currency") == ",.0f"
    assert charts.number_format("percent") == ".0%"
    assert charts.number_format("number") == ",.2~f"


@pytest.mark.parametrize(
    ("grain", "periods", "label"),
    [
        ("year", [date(y, 1, 1) for y in range(2013, 2017)], r">(20\d\d)<"),
        ("quarter", [date(2023 + q // 4, q % 4 * 3 + 1, 1) for q in range(8)], r">(Q\d 20\d\d)<"),
        ("month", [date(2022 + m // 12, m % 12 + 1, 1) for m in range(18)], r">(\w{3} 20\d\d)<"),
    ],
)
def test_trend_axis_labels_never_repeat(grain: str, periods: list[date], label: str) -> None:
    """One tick per period at most: a year-grain trend never reads "2013 2013 2014"."""
    rows = [
        {"category": None, "period": p, "actual": float(i), "target": 5.0, "status": "on target"}
        for i, p in enumerate(periods)
    ]
    svg = vl_convert.vegalite_to_svg(
        charts.to_json(charts.trend_chart(rows, unit="number", grain=grain))
    )
    found = re.findall(label, svg)
    assert found
    assert len(found) == len(set(found))


def test_a_heatmap_of_many_periods_keeps_symbols_and_drops_percentages() -> None:
    months = [date(2021 + m // 12, m % 12 + 1, 1) for m in range(48)]
    rows = [
        {"category": c, "period": p, "actual": 1.0, "target": 1.0, "attainment": 1.0,
         "status": "on target"}
        for c in ("East", "West")
        for p in months
    ]  # fmt: skip
    labels = {r["label"] for r in datasets(charts.heatmap(rows))[0]}
    assert labels == {score.STATUS_SYMBOLS["on target"]}  # no "100%" squeezed into a cell
    few = {r["label"] for r in datasets(charts.heatmap(rows[:12]))[0]}
    assert few == {f"{score.STATUS_SYMBOLS['on target']} 100%"}
    axis = charts.heatmap(rows)["layer"][0]["encoding"]["x"]["axis"]
    assert axis["labelOverlap"] == "greedy"


def test_legends_list_only_the_statuses_drawn(one_period: pd.DataFrame) -> None:
    """Two statuses drawn: the bullet's and the trend's legends list those two, and a
    rendered legend shows no other status word."""
    two = one_period[one_period["status"].isin(["on target", "off target"])]
    bullet = charts.bullet_chart(
        records(two), unit="number", direction="higher", good=1, warning=0.9
    )
    color = layers(bullet)[3]["encoding"]["color"]
    assert color["scale"]["domain"] == ["on target", "off target"]
    assert color["scale"]["range"] == ["#009e73", "#d55e00"]
    svg = vl_convert.vegalite_to_svg(charts.to_json(bullet))
    assert "on target" in svg
    assert "off target" in svg
    assert not {"at risk", "no target", "no data"} & set(re.findall(r">([a-z ]+)<", svg))
    series = scored([(None, m, 10.0 + i, 10.0, "on target") for i, m in enumerate(MONTHS)])
    trend = charts.trend_chart(records(series), unit="number")
    points = layers(trend)[1]["encoding"]
    assert points["color"]["scale"]["domain"] == ["on target"]
    assert points["shape"]["scale"]["domain"] == ["on target"]
    assert points["shape"]["scale"]["range"] == ["circle"]


def test_bullet_bars_carry_their_value_in_the_unit(one_period: pd.DataFrame) -> None:
    chart = charts.bullet_chart(
        records(one_period), unit="currency", direction="higher", good=1, warning=0.9
    )
    (data,) = datasets(chart)
    text = layers(chart)[-1]
    assert text["mark"]["type"] == "text"
    assert text["encoding"]["text"]["field"] == "label"
    assert text["encoding"]["x"]["field"] == "actual"  # drawn at the bar's end
    symbols = [score.STATUS_SYMBOLS[s] for s in one_period["status"]]
    expected = [f"{sym} ${v:,.0f}" for sym, v in zip(symbols, one_period["actual"], strict=True)]
    assert [r["label"] for r in data] == expected  # "✓ $1,200"...
    svg = vl_convert.vegalite_to_svg(charts.to_json(chart))
    assert "$1,200" in svg
    percent = scored([("East", DEC, 0.1234, 0.15, "off target")])
    chart = charts.bullet_chart(
        records(percent), unit="percent", direction="higher", good=1, warning=0.9
    )
    assert datasets(chart)[0][0]["label"].endswith(" 12.3%")


def test_a_kpi_sets_currency_on_axes_tooltips_and_labels(one_period: pd.DataFrame) -> None:
    chart = charts.bullet_chart(
        records(one_period),
        unit="currency",
        direction="higher",
        good=1,
        warning=0.9,
        currency="€",
    )
    (data,) = datasets(chart)
    assert data[1]["actual_text"] == "€1,200"
    assert data[1]["label"].endswith(" €1,200")
    svg = vl_convert.vegalite_to_svg(charts.to_json(chart))
    ticks = re.findall(r">(€[\d,]+)<", svg)
    assert "€0" in ticks
    assert len(ticks) >= 3
    assert "$" not in svg


def test_tooltips_never_say_null(totals: pd.DataFrame) -> None:
    """A period without an actual: every tooltip text of it is a dash."""
    chart = charts.trend_chart(records(totals), unit="currency", target_line=records(totals))
    series = datasets(chart)[0]
    missing = next(r for r in series if r["actual"] is None)
    assert (missing["actual_text"], missing["attainment_text"]) == ("—", "—")
    assert missing["target_text"] == "$3,500"
    for layer in layers(chart):
        for tip in layer["encoding"].get("tooltip", []):
            # numbers reach a tooltip only as our texts; Vega-Lite would write null for NaN
            assert tip["type"] != "quantitative"


@pytest.mark.parametrize(
    ("values", "direction", "verdict"),
    [
        ([100.0, 120.0, 150.0, 170.0, 160.0], "higher", "better"),  # rising, a final dip
        ([100.0, 120.0, 150.0, 170.0, 160.0], "lower", "worse"),
        ([170.0, 150.0, 120.0, 90.0, 95.0], "lower", "better"),  # falling, a final rise
        ([170.0, 150.0, 120.0, 90.0, 95.0], "higher", "worse"),
        ([5.0, 9.0, 5.0], "higher", "flat"),
        ([5.0], "higher", "flat"),
    ],
)
def test_sparkline_colour_follows_the_whole_window(values, direction, verdict) -> None:
    assert summary.trend_verdict(values, direction) == verdict


def _template_shapes() -> list[tuple]:
    """Every shape of chart template the app can draw: each builder over its structural
    options (layers, units, statuses drawn, grains), with titles that need escaping."""
    title = 'Revenue "net" & <b>Cost</b>'
    statuses = [(), tuple(score.STATUSES), (score.ON_TARGET, score.NO_DATA)]
    shapes: list[tuple] = []
    for unit, drawn in zip(("currency", "percent", "number"), statuses, strict=True):
        shapes.append((charts._bullet, None, unit, "€", drawn, "category_pick", "Region", title))
    shapes.append((charts._bullet, "Dec 2024", "number", "", statuses[1], "pick", "R", title))
    for on in [(), *[(i,) for i in range(5)], tuple(range(5))]:  # each layer alone, all
        layers = [i in on for i in range(5)]
        shapes.append((charts._trend, *layers, "currency", "$", statuses[1], "month", title))
    for grain in ("day", "quarter", "year"):
        shapes.append((charts._trend, *[True] * 5, "number", "", statuses[2], grain, title))
    for grain in ("week", "month", "quarter"):
        shapes.append((charts._heatmap, 1.0, 0.9, grain, "Region", title))
        shapes.append((charts._cumulative, "percent", "", grain, title))
    for ratio in (False, True):
        shapes.append((contribution_chart._contributions, "currency", "£", ratio, "Region", title))
    return shapes


def test_every_chart_template_is_valid_vega_lite() -> None:
    """The app builds templates without Altair's validation (``chart_parts.template_of``):
    each shape must pass Vega-Lite's JSON schema here, and an invalid spec must fail it."""
    for build, *options in _template_shapes():
        spec = json.loads(chart_parts.template_of(build, *options))
        vl_schema.Root.validate(spec)  # raises jsonschema's ValidationError when invalid
    broken = json.loads(chart_parts.template_of(charts._heatmap, 1.0, 0.9, "month", "R", "T"))
    broken["layer"][0]["mark"] = {"type": "bars"}
    with pytest.raises(jsonschema.ValidationError):
        vl_schema.Root.validate(broken)
