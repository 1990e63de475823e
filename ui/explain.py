"""Why the selected KPI is off target (or moved): the contribution chart, its one-line
reading and its table; and the table alternative every chart on the dashboard has.

A sum is explained from the dashboard's own aggregate; a ratio's numerator and denominator
come from an aggregate of their own, cached by dataset content, definition and filters like
the dashboard's: a target move re-explains from the caches, it never queries the data again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from kpi_logic import explain
from kpi_logic.compute import Record
from kpi_logic.contribution_chart import contribution_chart
from kpi_logic.errors import KPIExplorerError
from kpi_logic.model import KPI, definition_key
from kpi_logic.store import Dataset
from kpi_logic.text import markdown_text
from ui import kpis, live_tables, session
from ui.layout import lazy_expander

AGAINST = {
    "Target": explain.TARGET,
    "Previous period": explain.PREVIOUS,
    "Last year": explain.LAST_YEAR,
}


def table_alternative(
    label: str, key: str, rows: Sequence[Mapping[str, Any]], columns: list[str]
) -> None:
    """The ``columns`` of a chart's records as a table, one click away (drawn only while
    open)."""
    box = lazy_expander(f"Table: {label}", key=f"table_{key}", icon=":material/table:")
    if box is not None:
        table = pd.DataFrame.from_records([{c: r.get(c) for c in columns} for r in rows])
        box.dataframe(table.reindex(columns=columns), hide_index=True, width="stretch")


@st.cache_resource(max_entries=128, show_spinner=False)
def _records(
    _cur: duckdb.DuckDBPyConnection,
    table: str,
    revision: str,
    definition: str,
    start: date | None,
    end: date | None,
    categories: tuple[tuple[str, tuple[str, ...]], ...],
    _kpi: KPI,
) -> tuple[list[dict[str, object]], bool]:
    """The aggregate an explanation of ``_kpi`` reads (with a ratio's parts), cached by the
    KPI's definition (not its targets) and the view's filters. Shared: read only."""
    from kpi_logic import compute

    columns = list(compute.table_columns(_cur, table))
    helpers = explain.helper_kpis(_kpi, columns)
    rows = live_tables.aggregate_records(  # a live table's parts come from its database
        _cur,
        table,
        [_kpi, *helpers],
        start=start,
        end=end,
        categories={c: list(v) for c, v in categories} or None,
    )
    return rows, bool(helpers)


def explanation(
    dataset: Dataset, kpi: KPI, against: str, rows: list[Record]
) -> explain.Explanation:
    """``kpi`` explained in its latest period with data, in the current view: a sum from its
    rows of the dashboard's aggregate (``rows``), a ratio from its own cached aggregate (with
    its numerator and denominator)."""
    columns = kpis.dataset_columns(session.cursor(), dataset.table, dataset.content_hash)
    if explain.helper_kpis(kpi, list(columns)):
        view = session.view()
        filters = tuple((c, tuple(v)) for c, v in sorted(view.filters.items()) if v)
        key = definition_key(kpi) + repr((kpi.name, kpi.measure))
        records, helpers = _records(
            session.cursor(), dataset.table, live_tables.revision(dataset), key, view.start,
            view.end, filters, kpi,
        )  # fmt: skip
    else:
        records, helpers = [r for r in rows if r["kpi"] == kpi.name], False
    period = explain.pick_period(kpi, records, None) if kpi.time else None
    return explain.explain_records(kpi, records, period=period, against=against, helpers=helpers)


LINE_COLUMNS = ["category", "actual", "target", "gap", "contribution"]
RATIO_COLUMNS = [*LINE_COLUMNS, "rate", "mix", "share"]


def lines(result: explain.Explanation) -> list[Record]:
    """An explanation's lines as records, as the chart and the table show them."""
    columns = RATIO_COLUMNS if result.ratio else LINE_COLUMNS
    return [{c: getattr(line, c) for c in columns} for line in result.lines]


def section(dataset: Dataset, kpi: KPI, rows: list[Record]) -> None:
    """The contribution chart of ``kpi`` (``rows``: its rows of the dashboard's aggregate),
    against its target or an earlier period."""
    st.subheader("What drives the gap")
    picked = st.segmented_control(
        "Compare with", list(AGAINST), default="Target", key="explain_against"
    )
    against = AGAINST.get(picked or "Target", explain.TARGET)
    try:
        result = explanation(dataset, kpi, against, rows)
    except KPIExplorerError as err:
        st.info(markdown_text(err), icon=":material/info:")
        return
    st.markdown(markdown_text(explain.reading(result, kpi.unit, kpi.currency)))
    shown = lines(result)
    title = "Contribution to the gap" if against == explain.TARGET else "What drove the change"
    st.vega_lite_chart(
        contribution_chart(
            shown,
            unit=kpi.unit,
            direction=kpi.direction,
            category_title=kpi.by or "Category",
            title=title,
            currency=kpi.currency,
        ),
        width="stretch",
        key="contribution_chart",
    )
    if result.ratio:
        st.caption(
            "Rate: each category's own ratio against its target, weighed by its share of "
            "the denominator. Mix: its share of the denominator times how far its target is "
            "from the total's (or, against a period, how its share moved). Rate + mix = its "
            "contribution; the contributions add up to the gap."
        )
    table_alternative(
        title, "contributions", shown, RATIO_COLUMNS if result.ratio else LINE_COLUMNS
    )
