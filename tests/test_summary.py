"""Card facts and Review rows against pandas over the same generated, scored rows."""

from __future__ import annotations

import random
from datetime import date, datetime

import duckdb
import pandas as pd
import pytest

from kpi_logic import charts, compute, score, summary
from kpi_logic.model import KPI, Target
from kpi_logic.store import Note


def _scored() -> tuple[pd.DataFrame, KPI, pd.DataFrame]:
    rng = random.Random(3)
    rows = pd.DataFrame(
        {
            "day": [date(2024, rng.randrange(1, 7), rng.randrange(1, 28)) for _ in range(400)],
            "region": [rng.choice(["North", "South", "West"]) for _ in range(400)],
            "sales": [rng.uniform(0, 100) for _ in range(400)],
        }
    )
    con = duckdb.connect()
    con.register("rows", rows)
    con.execute("CREATE TABLE t AS SELECT * FROM rows")
    kpi = KPI(
        name="Sales",
        measure='sum("sales")',
        time="day",
        by="region",
        target=Target(default=3_000.0, by_category={"West": 1.0}),
    )
    return score.score_records(compute.aggregate_records(con, "t", [kpi]), [kpi]), kpi, rows


def test_card_facts_follow_the_latest_month_with_data() -> None:
    results, kpi, rows = _scored()
    month = pd.to_datetime(rows["day"]).dt.to_period("M")
    by_month = rows.groupby(month)["sales"].sum().sort_index()
    facts = summary.card_facts(results)["Sales"]
    assert facts.sparkline == [pytest.approx(v) for v in by_month.tolist()]
    assert facts.last["actual"] == pytest.approx(by_month.iloc[-1])
    latest = rows[month == by_month.index[-1]].groupby("region")["sales"].sum()
    targets = {"North": 3_000.0, "South": 3_000.0, "West": 1.0}
    assert facts.categories == len(latest)
    assert facts.on_target == sum(latest[c] >= targets[c] for c in latest.index)


def test_review_rows_report_problems_missing_data_and_the_last_note() -> None:
    results, kpi, rows_frame = _scored()
    broken = KPI(name="Broken", measure='sum("nope")')
    empty = KPI(name="Empty", measure='sum("sales")')
    note = Note("x" * 22, "k" * 22, "Sales", "Ana", "Promo ended", None, datetime(2024, 7, 1))
    notes = summary.last_notes(
        [note, Note("y" * 22, "k" * 22, "Sales", "Bo", "old", None, datetime(2024, 6, 1))]
    )
    rows = summary.review_rows([kpi, broken, empty], results, {"Broken": "unknown column"}, notes)
    assert [r["Status"] for r in rows[1:]] == ["unknown column", "no data"]
    sales = rows[0]
    assert sales["Last note"] == "2024-07-01 Ana: Promo ended"
    assert sales["Period"] == "Jun 2024"
    # no total target: the total is judged on the regions' targets added up
    june = rows_frame[pd.to_datetime(rows_frame["day"]).dt.month == 6]
    target = sum(1.0 if r == "West" else 3_000.0 for r in june["region"].unique())
    assert sales["Target"] == charts.format_value(target, "number")
    assert sales["Attainment"] == pytest.approx(june["sales"].sum() / target)
