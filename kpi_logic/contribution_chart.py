"""The contribution chart of an explanation (``kpi_logic.explain``): a diverging bar per
category, largest first, coloured and labelled by whether it helps or hurts.

Built like every chart in :mod:`kpi_logic.charts` (a template per shape, filled with data).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from kpi_logic import score
from kpi_logic.chart_parts import (
    LABEL_COLOR,
    STATUS_COLORS,
    TARGET_COLOR,
    Rows,
    Spec,
    make_spec,
    value_axis,
    with_texts,
)
from kpi_logic.formats import format_value
from kpi_logic.text import plain_text


def contribution_chart(
    lines: Rows,
    *,
    unit: str,
    direction: str,
    category_title: str = "Category",
    title: str = "Contribution to the gap",
    currency: str = "",
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
        f"{format_value(c, unit, signed=True, currency=currency)} {e}"
        for c, e in zip(data["contribution"], data["effect"], strict=True)
    ]
    ratio = "rate" in data and data["rate"].notna().any()
    data = with_texts(data, unit, currency)
    options = (unit, currency, ratio, plain_text(category_title), plain_text(title))
    return make_spec(_contributions, {"contributions": data}, *options)


def _contributions(
    unit: str, currency: str, ratio: bool, category_title: str, title: str
) -> alt.LayerChart | alt.FacetChart:
    tips = [
        alt.Tooltip("category:N", title=category_title),
        alt.Tooltip("actual_text:N", title="Actual"),
        alt.Tooltip("target_text:N", title="Compared with"),
        alt.Tooltip("contribution_text:N", title="Contribution"),
    ]
    if ratio:
        tips += [
            alt.Tooltip("rate_text:N", title="Rate part"),
            alt.Tooltip("mix_text:N", title="Mix part"),
        ]
    scale = alt.Scale(
        domain=["helps", "hurts", "none"],
        range=[STATUS_COLORS[score.ON_TARGET], STATUS_COLORS[score.OFF_TARGET], TARGET_COLOR],
    )
    base = alt.Chart(alt.NamedData(name="contributions")).encode(
        y=alt.Y("category:N", title=category_title, sort=None), tooltip=tips
    )
    bars = base.mark_bar().encode(
        x=alt.X("contribution:Q", title="Contribution", axis=value_axis(unit, currency)),
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
