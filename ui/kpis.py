"""The current dataset, its KPI set (with target overrides from sliders) and scored results.

The expensive part, the aggregate over the data, is cached by table, dataset revision, KPI
definitions and filters; targets are applied afterwards by ``score.score_records``, so
moving a target slider never re-scans the data. Results are the engine's records.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from datetime import date

import duckdb
import streamlit as st

from kpi_logic import (
    charts,
    compute,
    forecast,
    projection,
    score,
    scorecard,
    targets,
    versions,
    window_parts,
)
from kpi_logic.compute import Record
from kpi_logic.errors import (
    ComputeError,
    DataReadError,
    KPIDefinitionError,
    KPIExplorerError,
)
from kpi_logic.kpi_file import kpis_from_yaml, kpis_to_yaml
from kpi_logic.model import KPI, definition_key
from kpi_logic.store import Dataset, KPISet, Note
from kpi_logic.text import markdown_text, plain_text
from ui import session


def datasets() -> list[Dataset]:
    """Every dataset in the store, newest first."""
    return session.store().list_datasets(session.cursor())


def current_dataset() -> Dataset | None:
    """The dataset the view shows, at the version it pins (else its current one); the first
    dataset when the view names none. A dataset or version deleted meanwhile (another tab)
    is said on the page, naming what is shown instead."""
    available = datasets()
    if not available:
        return None
    view = session.view()
    chosen = next((d for d in available if d.id == view.dataset), available[0])
    if view.dataset is None:
        session.set_view(dataset=chosen.id)
    elif chosen.id != view.dataset:
        st.warning(
            f"The dataset shown before was deleted; showing {markdown_text(chosen.name)}.",
            icon=":material/info:",
        )
        choose_dataset(chosen.id)
    elif view.dataset_version and view.dataset_version != chosen.version:
        try:
            return session.store().get_dataset(session.cursor(), chosen.id, view.dataset_version)
        except KPIExplorerError as err:
            st.warning(f"{markdown_text(err)} Showing the current version.")
            session.set_view(dataset_version=None)
    try:  # a team store's table may be missing from this disk (a new container): made again
        session.store().ensure_local(session.cursor(), chosen.table, chosen.content_hash)
    except KPIExplorerError as err:
        st.error(markdown_text(err))
        st.stop()
    return chosen


def selected_name(items: list[KPI]) -> str | None:
    """The name of the KPI the view has selected (the first KPI when it names none)."""
    names = [k.name for k in items]
    wanted = session.view().kpi
    return wanted if wanted in names else (names[0] if names else None)


def dataset_picker(dataset: Dataset, key: str) -> None:
    """A select box of every dataset (labels no two datasets share) that switches the view
    to another."""
    names = {i: plain_text(label) for i, label in versions.labels(datasets()).items()}
    st.session_state[key] = dataset.id
    st.selectbox(
        "Dataset",
        list(names),
        format_func=names.get,
        key=key,
        on_change=lambda: choose_dataset(st.session_state[key]),
    )


def choose_dataset(dataset_id: str) -> None:
    """Show another dataset: its own KPI set, no targets tried, no filters."""
    session.set_view(
        dataset=dataset_id,
        dataset_version=None,
        kpi_set=None,
        kpi=None,
        targets={},
        filters={},
        start=None,
        end=None,
    )


def current_kpi_set(dataset: Dataset) -> KPISet:
    """The KPI set the view shows for ``dataset`` (created empty when the dataset has none)."""
    cur = session.cursor()
    sets = session.store().list_kpi_sets(cur, dataset.id)
    if not sets:
        set_id = session.store().save_kpi_set(cur, dataset.id, "KPIs", "kpis: []\n", author())
        sets = session.store().list_kpi_sets(cur, dataset.id)
        session.set_view(kpi_set=set_id)
    wanted = session.view().kpi_set
    chosen = next((s for s in sets if s.id == wanted), sets[0])
    if wanted is None:
        session.set_view(kpi_set=chosen.id)
    elif chosen.id != wanted:
        session.set_view(kpi_set=chosen.id, kpi=None, targets={})
    return chosen


def saved_kpis(kpi_set: KPISet) -> list[KPI]:
    """The KPIs as saved in ``kpi_set``; an unreadable set is reported and shows as empty."""
    try:
        return list(_parsed(kpi_set.yaml_text))
    except KPIExplorerError as err:
        st.error(f"The saved KPI set could not be read: {markdown_text(err)}")
        return []


@functools.lru_cache(maxsize=64)
def _parsed(yaml_text: str) -> tuple[KPI, ...]:
    """A KPI file read once per text (KPIs are immutable, so every session may share them)."""
    return tuple(kpis_from_yaml(yaml_text))


def bands_key(kpi: str) -> str:
    """Session key of the bands being tried for ``kpi`` (not saved until "Save targets")."""
    return f"bands::{kpi}"


def with_trial_bands(kpis: list[KPI]) -> list[KPI]:
    """Apply bands moved with the bands slider in this session."""
    result = []
    for kpi in kpis:
        trial = st.session_state.get(bands_key(kpi.name))
        result.append(kpi.with_bands(good=trial[1], warning=trial[0]) if trial else kpi)
    return result


@st.cache_data(max_entries=64, show_spinner=False)
def dataset_columns(_cur: duckdb.DuckDBPyConnection, table: str, revision: str) -> dict[str, str]:
    """Column name -> DuckDB type of a dataset table."""
    return compute.table_columns(_cur, table)


def live_kpis(dataset: Dataset, kpi_set: KPISet) -> tuple[list[KPI], list[KPI]]:
    """The saved KPIs, and the KPIs as shown: the view's unsaved targets, then totals judged
    on the picked categories' targets (so a drill-down judges the total by the same rules
    whether its targets are saved or tried), then trial bands."""
    saved = saved_kpis(kpi_set)
    columns = list(dataset_columns(session.cursor(), dataset.table, dataset.content_hash))
    session.check_view([k.name for k in saved], columns)
    tried = targets.with_overrides(saved, session.view().targets)
    return saved, with_trial_bands(
        targets.with_selected_totals(tried, session.view().filters, columns)
    )


def save_kpis(kpi_set: KPISet, kpis: list[KPI], summary: str) -> bool:
    """Save the KPI set (one transaction, with a history entry); False after showing why not.

    The save is refused when someone else saved the set since this page was drawn, so their
    change is never silently overwritten.
    """
    try:
        session.store().update_kpi_set(
            session.cursor(),
            kpi_set.id,
            kpis_to_yaml(kpis),
            author(),
            summary,
            expected_version=kpi_set.version,
        )
    except KPIExplorerError as err:
        st.error(f"Not saved: {markdown_text(err)}", icon=":material/error:")
        return False
    return True


def author() -> str:
    """Who is making changes: the signed-in user, else the name typed in the sidebar."""
    if st.user.get("is_logged_in"):
        return str(st.user.get("email") or st.user.get("name"))
    return st.session_state.get("author_name") or "anonymous"


@st.cache_resource(max_entries=256, show_spinner="Computing KPIs…")
def _aggregate(
    _cur: duckdb.DuckDBPyConnection,
    table: str,
    revision: str,
    definitions: tuple[tuple[str, str], ...],
    start: date | None,
    end: date | None,
    categories: tuple[tuple[str, tuple[str, ...]], ...],
    _kpis: tuple[KPI, ...],
) -> tuple[dict[str, list[Record]], dict[str, str]]:
    """The aggregate's records of ``_kpis`` by KPI name, and the problem of each KPI that
    could not be computed; cached by table, content hash, definitions and filters, failures
    included (so a broken KPI does not send every slider move back to the data). Shared, not
    copied: read only."""

    from ui import live_tables  # a live table's figures come from its database

    def run(group: list[KPI]) -> list[Record]:
        return live_tables.aggregate_records(
            _cur,
            table,
            group,
            start=start,
            end=end,
            categories={column: list(values) for column, values in categories} or None,
        )

    problems: dict[str, str] = {}
    try:
        records = run(list(_kpis))
    except (KPIDefinitionError, DataReadError):  # find which KPIs fail; compute the others
        records = []
        for kpi in _kpis:
            try:
                records += run([kpi])
            except (KPIDefinitionError, DataReadError) as err:
                problems[kpi.name] = str(err)
    parts: dict[str, list[Record]] = {}
    for record in records:
        parts.setdefault(record["kpi"], []).append(record)
    return parts, problems


def scored(dataset: Dataset, kpis: list[KPI]) -> tuple[list[Record], dict[str, str]]:
    """Actual, target, attainment and status per KPI x category x period for the view (the
    records of ``score.score_records``, shared: read only), and the problem of each KPI that
    could not be computed (KPI name -> message)."""
    from ui import live_tables

    view = session.view()
    query = (
        dataset.table,
        live_tables.revision(dataset),
        tuple((k.name, definition_key(k)) for k in kpis),
        view.start,
        view.end,
        tuple((column, tuple(values)) for column, values in sorted(view.filters.items())),
    )
    try:
        parts, problems = _aggregate(session.cursor(), *query, tuple(kpis))
    except ComputeError as err:  # out of memory or disk: not cached, the next run tries again
        st.error(markdown_text(err), icon=":material/error:")
        st.stop()
    # one short key for the aggregate: Streamlit hashes a nested tuple element by element,
    # once per KPI (about 6 ms of a target move on a quiet machine, 20 ms and more under load)
    aggregate = hashlib.sha256(repr(query).encode()).hexdigest()
    results = [
        r for k in kpis if k.name in parts for r in _score(aggregate, repr(k), parts[k.name], k)
    ]
    return results, problems


@st.cache_resource(max_entries=1024, show_spinner=False)
def _score(aggregate: str, kpi_repr: str, _rows: list[Record], _kpi: KPI) -> list[Record]:
    """One KPI's records of the aggregate (``aggregate``: a digest of its query) scored, cached
    by that and by everything the KPI says (its ``repr``): a target move re-scores the moved
    KPI only. Shared, not copied: read only."""
    return score.score_records(_rows, [_kpi])


@st.cache_resource(max_entries=64, show_spinner="Computing the time windows…")
def _window_basis(
    _cur: duckdb.DuckDBPyConnection,
    table: str,
    revision: str,
    definitions: tuple[tuple[str, str, int], ...],
    categories: tuple[tuple[str, tuple[str, ...]], ...],
    _kpis: tuple[KPI, ...],
) -> tuple[dict[str, tuple[date, date] | None], window_parts.DailyParts]:
    """Each KPI's first and last day, and the per-day parts from which the windows of sums,
    counts, their ratios, min and max follow without a query; cached by table, content hash,
    definitions and filters, not by window. Shared: read only."""
    from ui import live_tables  # a live table's parts are computed by its database

    con, source, engine = live_tables.source(_cur, table)
    dates = scorecard.date_spans(con, source, _kpis, engine=engine)
    picked = {column: list(values) for column, values in categories} or None
    daily = scorecard.daily_parts(con, source, _kpis, categories=picked, engine=engine)
    return dates, daily


@st.cache_resource(max_entries=256, show_spinner="Computing the time window…")
def _window_actuals(
    _cur: duckdb.DuckDBPyConnection,
    table: str,
    revision: str,
    definitions: tuple[tuple[str, str, int], ...],
    categories: tuple[tuple[str, tuple[str, ...]], ...],
    choice: scorecard.WindowChoice,
    _kpis: tuple[KPI, ...],
) -> tuple[dict[str, scorecard.Window | None], list[Record], str | None]:
    """Each KPI's window and its actuals there and a year earlier: from the per-day parts,
    a query only for the other measures (distinct counts, medians); cached by table, content
    hash, definitions (and fiscal year start), filters and window. When that query fails, the
    KPIs from the per-day parts still come, with the query's problem. Shared: read only."""
    from ui import live_tables

    dates, daily = _window_basis(_cur, table, revision, definitions, categories, _kpis)
    spans = scorecard.windows_of(_kpis, choice, dates)
    con, source, engine = live_tables.source(_cur, table)
    picked = {column: list(values) for column, values in categories} or None
    try:
        found = scorecard.window_actuals(
            con, source, _kpis, spans, categories=picked, engine=engine, daily=daily
        )
    except (KPIDefinitionError, DataReadError, duckdb.Error) as err:
        derived = [k for k in _kpis if k.name in daily.recipes]
        found = scorecard.window_actuals(None, source, derived, spans, daily=daily)
        failed = ", ".join(f"“{k.name}”" for k in _kpis if k not in derived)
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        return spans, found, f"{failed} could not be computed over the window ({reason})"
    return spans, found, None


def windowed(dataset: Dataset, kpis: list[KPI], problems: dict[str, str]) -> list[Record] | None:
    """The scorecard of the view's time window (``scorecard.score_windows`` records) for the
    KPIs that compute, or None when the view shows the latest period. Switching the window
    queries only distinct counts and medians; a target move re-scores the cached actuals
    without a query."""
    view = session.view()
    shown = tuple(k for k in kpis if k.name not in problems)
    if view.window is None or not shown:
        return None
    choice = window_choice()
    if choice is None:
        return None
    from ui import live_tables

    query = (
        dataset.table,
        live_tables.revision(dataset),
        tuple((k.name, definition_key(k), k.fiscal_year_start) for k in shown),
        tuple((column, tuple(values)) for column, values in sorted(view.filters.items())),
        choice,
    )
    try:
        spans, actuals, problem = _window_actuals(session.cursor(), *query, shown)
    except KPIExplorerError as err:
        st.error(markdown_text(err), icon=":material/error:")
        return None
    if problem is not None:
        st.warning(
            f"{markdown_text(problem)}: shown for the latest period, not the window.",
            icon=":material/warning:",
        )
    return scorecard.score_windows(actuals, shown, spans)


def window_choice() -> scorecard.WindowChoice | None:
    """The view's time window (up to the date filter's end), None for the latest period."""
    view = session.view()
    if view.window is None:
        return None
    return scorecard.WindowChoice(kind=view.window, as_of=view.end, start=view.start)


def rows_of(results: list[Record], name: str) -> list[Record]:
    """The records of the KPI ``name``."""
    return [r for r in results if r["kpi"] == name]


def trend(
    kpi: KPI,
    rows: list[Record],
    title: str = "Trend",
    notes: Sequence[Note] = (),
    ahead: projection.Projection | None = None,
) -> tuple[charts.Spec, forecast.Pace | None]:
    """The trend chart of ``kpi`` (its all-categories records of ``rows``, the target line,
    the pace projection, the forecast's 80% interval to the due date (``ahead``, else
    computed) and ``notes`` at their date) and its pace to the due date."""
    totals = [r for r in rows if r["kpi"] == kpi.name and r["category"] is None]
    pace = forecast.pace(kpi, totals)
    ahead = ahead or outlook(kpi, totals)
    chart = charts.trend_chart(
        totals,
        unit=kpi.unit,
        target_line=totals,
        projection=None if pace is None else pace.projection(),
        grain=kpi.grain,
        title=title,
        interval=None if ahead is None else _interval(totals, ahead),
        notes=note_marks(notes),
        currency=kpi.currency,
    )
    return chart, pace


def outlook(kpi: KPI, rows: list[Record]) -> projection.Projection | None:
    """``kpi``'s projection to its due date (interval, probability), from the cached records
    (its all-categories ones are used)."""
    if kpi.due is None or kpi.time is None:
        return None
    totals = [r for r in rows if r["kpi"] == kpi.name and r["category"] is None]
    return projection.project(kpi, totals)


def outlooks(
    kpis: list[KPI], results: list[Record], problems: dict[str, str]
) -> dict[str, projection.Projection | None]:
    """Each computed KPI's projection to its due date, once per run (cards and the trend
    share them)."""
    return {k.name: outlook(k, results) for k in kpis if k.name not in problems}


def _interval(totals: list[Record], ahead: projection.Projection) -> list[Record]:
    """The band from the last actual before the due period to the due period's interval."""
    known = [
        r
        for r in totals
        if not score.is_missing(r["actual"])
        and r["period"] is not None
        and r["period"] < ahead.period
    ]
    points = []
    if known:
        last = max(known, key=lambda r: r["period"])
        actual = last["actual"]
        points.append({"period": last["period"], "value": actual, "low": actual, "high": actual})
    points.append(
        {"period": ahead.period, "value": ahead.value, "low": ahead.low, "high": ahead.high}
    )
    return points


def note_marks(notes: Sequence[Note]) -> list[Record]:
    """Notes as trend marks: at their period when tied to one, else at their day."""
    return [
        {"date": n.period or n.created_at.date(), "note": n.text, "author": n.author or "anonymous"}
        for n in notes
    ]
