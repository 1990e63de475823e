"""Deleting a dataset through the real app (AppTest) on a real store: the Data page says what
goes with it (counts checked against the store's tables with SQL of the test's own), a wrong
name leaves the Delete button disabled and deletes nothing, the right name deletes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from kpi_logic.store import new_id
from tests.test_app import rerun, start
from tests.test_versions_app import upload

ORDERS = "Date,Region,Amount\n2024-01-03,East,10\n2024-02-05,West,7.5\n"
KPIS = """kpis:
  - name: Orders total
    type: sales
    owner: Ann
    measure: sum("Amount")
    time: Date
    grain: month
    target: 20
"""


def independent_counts(cur, dataset_id: str) -> dict[str, object]:
    """What a deletion takes, counted straight from the store's tables."""

    def one(query: str) -> int:
        return cur.execute(query, [dataset_id]).fetchone()[0]

    sets = "SELECT id FROM kpi_sets WHERE dataset_id = ?"
    views = cur.execute("SELECT name, state FROM views").fetchall()
    return {
        "sets": sorted(
            r[0]
            for r in cur.execute(
                "SELECT name FROM kpi_sets WHERE dataset_id = ?", [dataset_id]
            ).fetchall()
        ),
        "notes": one(f"SELECT count(*) FROM notes WHERE kpi_set_id IN ({sets})"),
        "history": one(f"SELECT count(*) FROM history WHERE kpi_set_id IN ({sets})"),
        "versions": one("SELECT count(*) FROM dataset_versions WHERE dataset_id = ?"),
        "views": sorted(name for name, state in views if json.loads(state).get("ds") == dataset_id),
    }


def shown_text(at: AppTest) -> str:
    """The section's words: its first line and the list of what goes, one element each."""
    bodies = [m.body for m in at.markdown]
    first = next(i for i, body in enumerate(bodies) if body.startswith("Deleting "))
    lines = [body for body in bodies[first + 1 :] if body.startswith("- ")]
    return "\n".join([bodies[first], *lines])


def number_before(text: str, words: str) -> int:
    found = re.search(rf"([\d,]+) {words}", text)
    assert found, (words, text)
    return int(found.group(1).replace(",", ""))


def test_deleting_a_dataset_lists_what_goes_and_needs_its_name(store_path: Path) -> None:
    at = upload(start(store_path), "orders.csv", ORDERS.encode())
    orders = at.selectbox(key="data_pick").value
    at = upload(at, "orders.csv", (ORDERS + "2024-03-01,East,4\n").encode(), index=1)
    at.button(key="version_go").click()
    rerun(at)
    from ui import session

    store = session.store()
    cur = store.cursor()
    sample = next(d for d in store.list_datasets(cur) if d.id != orders)
    first = store.save_kpi_set(cur, orders, "Orders KPIs", KPIS, "ann")
    second = store.save_kpi_set(cur, orders, "Regional", KPIS, "bob")
    store.update_kpi_set(cur, first, KPIS.replace("20", "25"), "ann", "target 25")
    for kpi_set, text in ((first, "late"), (first, "ok"), (second, "check")):
        store.add_note(cur, kpi_set, "Orders total", "ann", text)
    (sample_set,) = store.list_kpi_sets(cur, sample.id)
    sample_note = store.add_note(cur, sample_set.id, "Revenue", "ann", "keep me")
    store.save_view(cur, "Orders East", {"page": "dashboard", "ds": orders})
    store.save_view(cur, "Orders all", {"page": "dashboard", "ds": orders, "ks": first})
    store.save_view(cur, "Sample view", {"page": "dashboard", "ds": sample.id})
    store.save_view(cur, "Gone elsewhere", {"page": "dashboard", "ds": new_id()})
    at.session_state["open_delete_dataset"] = True  # open the section, as a click would
    rerun(at)

    expected = independent_counts(cur, orders)
    assert expected["versions"] == 2
    assert expected["notes"] == 3
    text = shown_text(at)
    assert "**orders.csv**" in text
    assert number_before(text, "KPI sets") == len(expected["sets"])
    assert {"Orders KPIs", "Regional"} <= set(expected["sets"])
    assert all(name in text for name in expected["sets"])
    assert number_before(text, "notes") == expected["notes"]
    assert number_before(text, "history line") == expected["history"] >= 1
    assert number_before(text, "versions") == expected["versions"]
    assert number_before(text, "saved views") == len(expected["views"]) == 2
    assert all(name in text for name in expected["views"])
    assert "Sample view" not in text
    assert "Gone elsewhere" not in text

    button = at.button(key="delete_dataset")
    assert button.disabled
    at.text_input(key="delete_confirm").input("orders")
    rerun(at)
    assert at.button(key="delete_dataset").disabled
    at.text_input(key="delete_confirm").input("orders.csv")
    rerun(at)
    assert not at.button(key="delete_dataset").disabled
    at.text_input(key="delete_confirm").input("orders.cs")  # changed with the click itself
    at.button(key="delete_dataset").click()
    rerun(at)
    assert any("Type the name “orders.csv”" in e.body for e in at.error)
    assert {d.id for d in store.list_datasets(cur)} == {orders, sample.id}
    assert independent_counts(cur, orders) == expected

    at.text_input(key="delete_confirm").input("orders.csv")
    rerun(at)
    assert not at.button(key="delete_dataset").disabled
    at.button(key="delete_dataset").click()
    rerun(at)
    assert [d.id for d in store.list_datasets(cur)] == [sample.id]
    gone = independent_counts(cur, orders)
    assert (gone["sets"], gone["notes"], gone["history"], gone["versions"]) == ([], 0, 0, 0)
    assert [n.id for n in store.notes(cur, sample_set.id)] == [sample_note]
    assert at.text_input(key="delete_confirm").value == ""
