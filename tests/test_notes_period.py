"""Check-in notes tied to a period: saved and read back, and a store made before the column
existed gains it on opening, its notes kept."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from kpi_logic.store import Store
from tests.test_store import make_dataset


def test_note_tied_to_a_period_round_trip(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        cur = store.cursor()
        kpi_set = store.save_kpi_set(cur, make_dataset(store, cur), "KPIs", "kpis: []", "ann")
        store.add_note(cur, kpi_set, "Sales", "ann", "Storm", "at risk", date(2024, 3, 1))
        store.add_note(cur, kpi_set, "Sales", "bob", "Untied")
        untied, tied = store.notes(cur, kpi_set)
        assert (tied.text, tied.period) == ("Storm", date(2024, 3, 1))
        assert untied.period is None


def test_a_store_without_the_period_column_gains_it(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with Store(path) as store:
        cur = store.cursor()
        kpi_set = store.save_kpi_set(cur, make_dataset(store, cur), "KPIs", "kpis: []", "ann")
        store.add_note(cur, kpi_set, "Sales", "ann", "Before the upgrade")
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE notes DROP COLUMN period")  # as store version 2 made it
    con.execute("UPDATE schema_version SET version = 2")
    con.close()
    with Store(path) as store:
        cur = store.cursor()
        (old,) = store.notes(cur, kpi_set)
        assert (old.text, old.period) == ("Before the upgrade", None)
        store.add_note(cur, kpi_set, "Sales", "ann", "After", None, date(2024, 4, 1))
        assert store.notes(cur, kpi_set)[0].period == date(2024, 4, 1)
