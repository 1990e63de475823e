"""The contribution chart of an explanation (``kpi_logic.explain``): a diverging bar per
category, largest first, coloured and labelled by whether it helps or hurts.

Built like every chart in :mod:`kpi_logic.charts` (a template per shape, filled with data).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from kpi_logic import score
from kpi_logic.charts import (
    LABEL_COLOR,
    STATUS_COLORS,
    TARGET_COLOR,
    Rows,
    Spec,
    _spec,
    format_value,
    number_format,
)
from kpi_logic.text import plain_text


def contribution_chart(
    lines: Rows,
    *,
    unit: str,
    direction: str,
    category_title: str = "Category",
    title: str = "Contribution to the gap",
) -> Spec:
    """A diverging bar per line of an explanation (``category, actual, target, gap,
    contribution``; ``rate, mix`` for a ratio) in the given order (largest first): bars that
    help (towards better, by ``direction``) in the on-target colour, bars that hurt in the
    off-target colour, each labelled with its signed value and the word."""
    data = pd.DataFrame.from_records(list(lines))
    better = 1.0 if direction == "higher" else -1.0
    data["effect"] = ["helps" if c * better > 0 else "hurts" if c else "none"
                      for c in data["contribution"]]  # fmt: skip
    data["label"] = [
        f"{format_value(c, unit, signed=True)} {e}"
        for c, e in zip(data["contribution"], data["effect"], strict=True)
    ]
    ratio = "rate" in data and data["rate"].notna().any()
    options = (unit, ratio, plain_text(category_title), plain_text(title))
    return _spec(_contributions, {"contributions": data}, *options)


def _contributions(
    unit: str, ratio: bool, category_title: str, title: str
) -> alt.LayerChart | alt.FacetChart:
    value = number_format(unit)
    tips = [
        alt.Tooltip("category:N", title=category_title),
        alt.Tooltip("actual:Q", title="Actual", format=value),
        alt.Tooltip("target:Q", title="Compared with", format=value),
        alt.Tooltip("contribution:Q", title="Contribution", format=value),
    ]
    if ratio:
        tips += [
            alt.Tooltip("rate:Q", title="Rate part", format=value),
            alt.Tooltip("mix:Q", title="Mix part", format=value),
        ]
    scale = alt.Scale(
        domain=["helps", "hurts", "none"],
        range=[STATUS_COLORS[score.ON_TARGET], STATUS_COLORS[score.OFF_TARGET], TARGET_COLOR],
    )
    base = alt.Chart(alt.NamedData(name="contributions")).encode(
        y=alt.Y("category:N", title=category_title, sort=None), tooltip=tips
    )
    bars = base.mark_bar().encode(
        x=alt.X("contribution:Q", title="Contribution", axis=alt.Axis(format=value)),
        color=alt.Color("effect:N", scale=scale, title="Effect"),
    )
    labels = base.mark_text(align="left", dx=4, color=LABEL_COLOR).encode(
        x=alt.value(4), text=alt.Text("label:N")
    )
    zero = (
        alt.Chart(alt.NamedData(name="contributions"))
        .mark_rule(color=LABEL_COLOR)
        .encode(x=alt.datum(0))
    )
    return alt.layer(bars, zero, labels).properties(
        title=title, width="container", height=alt.Step(30)
    )
