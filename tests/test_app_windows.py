"""The dashboard's time windows through the real app (AppTest) on the bundled sample: window
cards against pro-rated targets and the same days last year, the window in the link, unsaved
targets applied to window cards, relative date presets, and the per-period grid's label."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from kpi_logic import share
from tests.test_app import ROOT, card_status, rerun, start


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return pd.read_csv(ROOT / "data" / "sample_sales.csv", parse_dates=["Date"])


def between(frame: pd.DataFrame, first: str, last: str) -> pd.DataFrame:
    return frame[(frame["Date"] >= first) & (frame["Date"] <= last)]


def money(value: float) -> str:
    """A currency value as the cards write it (millions with one decimal), escaped."""
    return f"\\${value / 1e6:.1f}M"


def revenue_card(at) -> tuple[str, str]:
    metric = next(m for m in at.metric if m.label == "Revenue")
    line = next(m.body for m in at.markdown if "-badge[" in m.body)
    return metric.value, line


def test_year_to_date_cards_against_pro_rated_targets_and_last_year(
    store_path: Path, sample: pd.DataFrame
) -> None:
    at = start(store_path, {"w": "ytd", "to": "2024-05-15"})
    now = between(sample, "2024-01-01", "2024-05-15")["Revenue"].sum()
    before = between(sample, "2023-01-01", "2023-05-15")["Revenue"].sum()
    target = 4_000_000 * 4 + 4_000_000 * 15 / 31  # the total's monthly target, May pro-rated
    value, line = revenue_card(at)
    assert value == money(now).replace("\\", "")
    assert f"**{now / target:.0%}** of target ({money(target)})" in line
    metric = next(m for m in at.metric if m.label == "Revenue")
    assert metric.proto.delta == f"+${(now - before) / 1e6:.1f}M"
    captions = [c.value for c in at.caption]
    assert f"Same days last year: {money(before)}" in captions
    assert "01 Jan 2024 – 15 May 2024 · partial: compared with the same days" in captions
    assert any(c.startswith("Cards: year to date") for c in captions)
    # per region over the window, against its own monthly target pro-rated the same way
    monthly = {"North": 1_100_000, "South": 900_000, "East": 1_050_000, "West": 1_000_000}
    by_region = between(sample, "2024-01-01", "2024-05-15").groupby("Region")["Revenue"].sum()
    on = sum(by_region[r] / (m * (4 + 15 / 31)) >= 1.0 for r, m in monthly.items())
    assert f"{on} of 4 Region on target" in captions
    allocated = sum(monthly.values()) * (4 + 15 / 31)
    over = f"\\${(allocated - target) / 1e3:.1f}K over it"  # regions' targets exceed the total
    assert f"Region targets add up to {money(allocated)} of the {money(target)} total: {over}" in (
        captions
    )


def test_the_window_travels_in_the_link_and_the_picker(store_path: Path) -> None:
    at = start(store_path)
    assert at.selectbox(key="window_pick").value == "latest"  # the latest period by default
    assert not any(c.value.startswith("Cards:") for c in at.caption)
    at.selectbox(key="window_pick").select("qtd")
    rerun(at)
    view = at.session_state["view"]  # what the app writes into the link
    assert view.window == "qtd"
    assert share.to_query_params(view)["w"] == "qtd"
    assert any(c.value.startswith("Cards: quarter to date") for c in at.caption)
    bad = start(store_path, {"w": "fortnight"})
    assert any("time window" in w.value for w in bad.warning)
    assert bad.selectbox(key="window_pick").value == "latest"


def test_unsaved_targets_apply_to_window_cards(store_path: Path, sample: pd.DataFrame) -> None:
    at = start(store_path, {"w": "ytd", "t": json.dumps({"Revenue": 5_000_000})})
    now = between(sample, "2024-01-01", "2024-12-31")["Revenue"].sum()
    _, line = revenue_card(at)
    assert f"**{now / 60_000_000:.0%}** of target ({money(60_000_000)})" in line
    assert card_status(at, 0) == ("On target" if now >= 60_000_000 else "Off target")
    # the sidebar says which targets are tried and not saved, and what they were
    unsaved = [w.value for w in at.sidebar.warning if "Unsaved targets" in w.value]
    assert unsaved == ["Unsaved targets: Revenue: total 4,000,000 → 5,000,000"]


def test_a_relative_date_preset_sets_the_date_range(store_path: Path) -> None:
    at = start(store_path)
    at.selectbox(key="date_preset").select("last-month")
    rerun(at)
    view = at.session_state["view"]
    assert (view.start, view.end) == (date(2024, 11, 1), date(2024, 11, 30))
    at.selectbox(key="date_preset").select("this-quarter")
    rerun(at)
    view = at.session_state["view"]
    assert (view.start, view.end) == (date(2024, 10, 1), None)  # None: to the last date


def test_allocate_the_total_by_last_years_shares_and_spread_a_year_by_its_profile(
    store_path: Path, sample: pd.DataFrame
) -> None:
    from tests.test_app import open_sections

    at = open_sections(start(store_path), "open_allocate")
    at.radio(key="split_how").set_value(True)
    at.button(key="split_total").click()
    rerun(at)
    tried = {k.text: v for k, v in at.session_state["view"].targets.items()}
    year_2023 = sample[sample["Date"].dt.year == 2023]
    shares = year_2023.groupby("Region")["Revenue"].sum() / year_2023["Revenue"].sum()
    assert tried.pop("Revenue") == 4_000_000  # the total it split
    assert tried == pytest.approx({f"Revenue@{r}": 4_000_000 * s for r, s in shares.items()})
    assert sum(tried.values()) == pytest.approx(4_000_000)
    # evenly: a quarter each
    at.radio(key="split_how").set_value(False)
    at.button(key="split_total").click()
    rerun(at)
    tried = {k.text: v for k, v in at.session_state["view"].targets.items() if "@" in k.text}
    assert set(tried.values()) == {1_000_000}
    # a yearly target over 2024's months by 2023's seasonal profile
    at.number_input(key="yearly_target").set_value(60_000_000.0)
    at.radio(key="spread_how").set_value(True)
    rerun(at)
    at.button(key="spread_year").click()
    rerun(at)
    periods = {
        k.period: v for k, v in at.session_state["view"].targets.items() if k.period is not None
    }
    months = year_2023.groupby(year_2023["Date"].dt.month)["Revenue"].sum()
    expected = {date(2024, m, 1): 60_000_000 * v / months.sum() for m, v in months.items()}
    assert periods == pytest.approx(expected)
    # the December card is judged against December's share: the per-period total target
    december = sample[sample["Date"].dt.strftime("%Y-%m") == "2024-12"]["Revenue"].sum()
    line = next(m.body for m in at.markdown if "-badge[" in m.body)
    assert f"**{december / expected[date(2024, 12, 1)]:.0%}** of target" in line


def test_the_trend_names_its_partial_periods(store_path: Path) -> None:
    """A date filter cutting into months: the trend says which periods have fewer days."""
    at = start(store_path, {"from": "2023-03-05", "to": "2024-08-20"})
    captions = [c.value for c in at.caption]
    assert (
        "Partial periods, with fewer days than the others: Mar 2023 (05 Mar – 31 Mar 2023), "
        "Aug 2024 (01 Aug – 20 Aug 2024)." in captions
    )
    whole = start(store_path)  # the sample covers whole months: nothing to say
    assert not any(c.value.startswith("Partial periods") for c in whole.caption)


def test_a_cumulative_chart_through_the_window(store_path: Path, sample: pd.DataFrame) -> None:
    """Year to date to 15 May: the actual to date, the target curve through the year and last
    year's running total, from the same numbers as the cards."""
    from tests.test_app import chart_data

    at = start(store_path, {"w": "ytd", "to": "2024-05-15"})
    data = chart_data(at, "Year to date: cumulative").sort_values("period")
    assert len(data) == 12  # January to December 2024
    now = between(sample, "2024-01-01", "2024-05-15")
    monthly = now.groupby(now["Date"].dt.month)["Revenue"].sum().cumsum()
    assert data["actual"].iloc[:5].tolist() == pytest.approx(monthly.tolist())
    assert data["actual"].iloc[5:].isna().all()  # nothing after the window's end
    assert data["target"].tolist() == pytest.approx([4_000_000 * m for m in range(1, 13)])
    before = sample[sample["Date"].dt.year == 2023]
    running = before.groupby(before["Date"].dt.month)["Revenue"].sum().cumsum()
    assert data["last_year"].tolist() == pytest.approx(running.tolist())
    latest = start(store_path)  # the latest period: no window, no cumulative chart
    with pytest.raises(AssertionError, match="no chart titled"):
        chart_data(latest, "Year to date: cumulative")


def test_switching_the_window_never_queries_sums_and_ratios(
    store_path: Path, sample: pd.DataFrame
) -> None:
    """After the first window the dataset's table is renamed away: switching to the quarter
    to date still gives the cards of sums, counts and their ratios their new figures (from the
    cached per-day parts), and the one KPI needing a query (a distinct count) says it could
    not be computed over the window."""
    from ui import session

    at = start(store_path, {"w": "ytd"})
    store = session.store()
    cur = store.cursor()
    (dataset,) = store.list_datasets(cur)
    cur.execute(f'ALTER TABLE "{dataset.table}" RENAME TO "{dataset.table}_away"')
    try:
        at.selectbox(key="window_pick").select("qtd")
        rerun(at)
        q4 = between(sample, "2024-10-01", "2024-12-31")
        value, line = revenue_card(at)
        assert value == money(q4["Revenue"].sum()).replace("\\", "")
        assert "01 Oct 2024 – 31 Dec 2024" in line or any(
            "01 Oct 2024 – 31 Dec 2024" in m.value for m in at.caption
        )
        margin = (q4["Revenue"].sum() - q4["Cost"].sum()) / q4["Revenue"].sum()
        assert next(m.value for m in at.metric if m.label == "Profit Margin") == f"{margin:.1%}"
        warnings = [w.value for w in at.warning if "not the window" in w.value]
        assert len(warnings) == 1
        assert "Staff Turnover" in warnings[0]
    finally:
        cur.execute(f'ALTER TABLE "{dataset.table}_away" RENAME TO "{dataset.table}"')
