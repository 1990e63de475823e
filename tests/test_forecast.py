"""forecast.pace on hand-made rows with figures worked out by hand, and end to end."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from kpi_logic import compute, score
from kpi_logic.forecast import pace
from kpi_logic.model import KPI, Bands, Target

JAN = date(2024, 1, 1)


def rows(actual: float, as_of: date, *, additive: bool = True, period: date = JAN) -> list[dict]:
    return [
        {
            "kpi": "Sales",
            "category": category,
            "period": period,
            "actual": value,
            "as_of": as_of,
            "additive": additive,
        }
        for category, value in ((None, actual), ("East", actual / 2))
    ]


SALES = KPI("Sales", "sum(x)", time="d", grain="month", target=Target(3100), due=date(2024, 1, 31))


def test_linear_pace_on_track() -> None:
    result = pace(SALES, rows(1200, date(2024, 1, 10)))
    assert result is not None
    assert (result.start, result.due, result.as_of) == (JAN, date(2024, 1, 31), date(2024, 1, 10))
    assert result.elapsed == pytest.approx(10 / 31)
    assert result.expected == pytest.approx(1000)  # 3100 x 10/31
    assert result.projected == pytest.approx(3720)  # 1200 / (10/31)
    assert result.status == "on track"
    line = result.projection()
    assert [p["value"] for p in line] == pytest.approx([1200, 3720])
    assert [p["date"] for p in line] == [date(2024, 1, 10), date(2024, 1, 31)]


def test_linear_pace_behind_and_explicit_as_of() -> None:
    result = pace(SALES, rows(1200, date(2024, 1, 10)), as_of=date(2024, 1, 20))
    assert result.expected == pytest.approx(2000)  # 3100 x 20/31
    assert result.projected == pytest.approx(1860)  # 1200 / (20/31)
    assert result.status == "behind"


def test_window_ends_at_a_due_date_inside_the_period() -> None:
    kpi = KPI("Sales", "sum(x)", time="d", target=Target(1000), due=date(2024, 1, 20))
    result = pace(kpi, rows(300, date(2024, 1, 5)))
    assert result.elapsed == pytest.approx(5 / 20)
    assert result.expected == pytest.approx(250)
    assert result.projected == pytest.approx(1200)
    late = pace(kpi, rows(900, date(2024, 1, 31)))  # data past the due date: window is over
    assert (late.elapsed, late.projected, late.status) == (1.0, 900, "behind")


def test_levels_are_not_paced_over_days() -> None:
    margin = KPI("Sales", "sum(p)/sum(s)", time="d", target=Target(0.2), due=date(2024, 3, 31))
    result = pace(margin, rows(0.19, date(2024, 1, 10), additive=False), as_of=date(2024, 1, 10))
    assert result is None  # the due date's period (March) has no data yet
    quarterly = KPI(
        "Sales",
        "sum(p)/sum(s)",
        time="d",
        grain="quarter",
        target=Target(0.2),
        due=date(2024, 3, 31),
        bands=Bands(good=0.9, warning=0.8),
    )
    result = pace(quarterly, rows(0.19, date(2024, 1, 10), additive=False))
    assert (result.expected, result.projected, result.linear) == (0.2, 0.19, False)
    assert result.status == "on track"  # 0.95 >= good 0.9


def test_lower_is_better() -> None:
    cost = KPI(
        "Sales", "sum(x)", time="d", direction="lower", target=Target(3100), due=date(2024, 1, 31)
    )
    assert pace(cost, rows(1200, date(2024, 1, 10))).status == "behind"  # heads to 3720
    assert pace(cost, rows(800, date(2024, 1, 10))).status == "on track"  # heads to 2480


def test_nothing_to_pace() -> None:
    assert pace(KPI("Sales", "sum(x)", time="d", target=Target(1)), rows(1, JAN)) is None
    no_target = KPI("Sales", "sum(x)", time="d", due=date(2024, 1, 31))
    assert pace(no_target, rows(1, JAN)) is None
    assert pace(SALES, rows(1, date(2023, 12, 31), period=date(2023, 12, 1))) is None
    by_region = KPI(  # the total row of a KPI with `by` needs a total target
        "Sales", "sum(x)", time="d", by="r", target=Target(3100), due=date(2024, 1, 31)
    )
    assert pace(by_region, rows(1200, date(2024, 1, 10))) is None
    assert pace(by_region.with_total_target(3100), rows(1200, date(2024, 1, 10))).projected == (
        pytest.approx(3720)
    )


def test_end_to_end_from_aggregate() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT DATE '2024-02-01' + i::INTEGER AS d, 10.0 AS x"
        " FROM range(12) r(i)"
    )
    kpi = KPI("Sales", "sum(x)", time="d", target=Target(290), due=date(2024, 2, 29))
    scored = score.score_records(compute.aggregate_records(con, "t", [kpi]), [kpi])
    result = pace(kpi, scored)
    assert result.as_of == date(2024, 2, 12)
    assert result.actual == 120
    assert result.expected == pytest.approx(120)  # 290 x 12/29
    assert result.projected == pytest.approx(290)
    assert result.status == "on track"
