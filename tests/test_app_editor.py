"""The KPI editor (a dialog opened from the dashboard) through AppTest: a form that starts
empty after Add, each problem right under its field, defaults from a messy file's data, the
edit of a saved KPI, and a live preview equal to pandas over the same rows."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from kpi_logic.kpi_file import kpis_from_yaml
from kpi_logic.model import KPI
from tests.test_app import ROOT, open_sections, rerun, start

SAMPLE_KPIS = yaml.safe_load((ROOT / "data" / "sample_kpis.yaml").read_text())["kpis"]


def saved_kpis() -> list[KPI]:
    """The KPIs the app's store holds now for its only dataset (read from the store)."""
    from ui import session

    store = session.store()
    cur = store.cursor()
    datasets = store.list_datasets(cur)
    (kpi_set,) = store.list_kpi_sets(cur, datasets[0].id)
    return kpis_from_yaml(store.get_kpi_set(cur, kpi_set.id).yaml_text)


def place_of(at: AppTest, key: str) -> tuple[Any, int]:
    """The block holding the widget ``key`` and the widget's index among its children."""

    def find(node: Any) -> tuple[Any, int] | None:
        children = list(getattr(node, "children", {}).values())
        for index, child in enumerate(children):
            if getattr(child, "key", None) == key and getattr(child, "type", "") != "expander":
                return node, index
            found = find(child)
            if found:
                return found
        return None

    found = find(at._tree)
    assert found is not None, f"no widget {key!r} on the page"
    return found


def message_under(at: AppTest, key: str) -> tuple[str, str] | None:
    """(element type, text) of what is drawn right after widget ``key``, if anything is."""
    block, index = place_of(at, key)
    children = list(block.children.values())
    if index + 1 >= len(children) or children[index + 1].type not in ("error", "caption"):
        return None
    return children[index + 1].type, children[index + 1].value


def group_of(at: AppTest, key: str) -> str:
    """The key of the editor's group (bordered container) that holds widget ``key``."""

    def path(node: Any, trail: list[str]) -> list[str] | None:
        for child in getattr(node, "children", {}).values():
            here = [*trail, str(getattr(child, "key", None))]
            if getattr(child, "key", None) == key and child.type != "expander":
                return here
            found = path(child, here)
            if found:
                return found
        return None

    trail = path(at._tree, []) or []
    groups = [k for k in trail if "_group_" in k]
    assert groups, f"{key} is in no group: {trail}"
    return groups[-1]


def test_the_form_starts_empty_after_add_and_a_new_name_alone_copies_nothing(
    store_path: Path,
) -> None:
    at = open_sections(start(store_path), "open_add_kpi")
    fresh = {k: at.session_state[k] for k in ("new_col", "new_agg", "new_time", "new_by")}
    assert fresh == {"new_col": "Revenue", "new_agg": "sum", "new_time": "Date", "new_by": "Region"}
    at.text_input(key="new_name").input("Units sold")
    at.selectbox(key="new_col").select("Units")
    at.selectbox(key="new_by").select("Channel")
    at.selectbox(key="new_unit").select("number")
    at.text_input(key="new_filter").input("\"Channel\" <> 'Partner'")
    at.text_input(key="new_owner").input("Ops lead")
    at.number_input(key="new_target").set_value(50_000)
    rerun(at)
    at.button(key="add_kpi").click()
    rerun(at)
    assert "Units sold" in [m.label for m in at.metric]
    assert not [t for t in at.text_input if t.key == "new_name"]  # the dialog closed

    at = open_sections(at, "open_add_kpi")  # open again: every field as on a first open
    assert at.text_input(key="new_name").value == ""
    assert at.text_input(key="new_owner").value == ""
    assert at.text_input(key="new_filter").value == ""
    assert at.number_input(key="new_target").value is None
    assert {k: at.session_state[k] for k in fresh} == fresh
    at.button(key="add_kpi").click()  # no name yet: nothing is added
    rerun(at)
    assert any(e.body.startswith("Not added yet") for e in at.error)
    assert message_under(at, "new_name") == ("caption", "Give the KPI a name.")
    assert len(saved_kpis()) == 11
    at.text_input(key="new_name").input("Second")
    rerun(at)
    at.button(key="add_kpi").click()
    rerun(at)
    second = next(k for k in saved_kpis() if k.name == "Second")
    assert second.measure == 'sum("Revenue")'
    assert (second.by, second.filter, second.owner, second.unit) == ("Region", None, "", "number")
    assert second.target.total is None
    assert second.target.default is None
    units = next(k for k in saved_kpis() if k.name == "Units sold")
    assert (units.measure, units.owner, units.target.total) == ('sum("Units")', "Ops lead", 50_000)


def test_each_problem_is_shown_under_its_field_in_its_group(store_path: Path) -> None:
    at = open_sections(start(store_path), "open_add_kpi")
    assert message_under(at, "new_name") == ("caption", "Give the KPI a name.")
    at.text_input(key="new_name").input("Revenue")  # taken by the sample's KPI
    at.radio(key="new_mode").set_value("Expression")
    rerun(at)
    at.text_input(key="new_expr").input('sum("Revenu")')
    at.text_input(key="new_filter").input("\"Regio\" = 'North'")
    at.number_input(key="new_target").set_value(-5.0)
    rerun(at)
    expected = {
        "new_name": "already exists",
        "new_expr": 'did you mean "Revenue"',
        "new_filter": 'did you mean "Region"',
        "new_target": "below zero",
    }
    for key, words in expected.items():
        found = message_under(at, key)
        assert found is not None, key
        assert found[0] == "error", (key, found)
        assert words in found[1], (key, found)
    assert group_of(at, "new_expr") == group_of(at, "new_filter") == "new_group_measure"
    assert group_of(at, "new_target") == "new_group_target"
    # each fixed field loses its message; the others keep theirs
    at.text_input(key="new_expr").input('sum("Revenue") / count(*)')
    at.text_input(key="new_name").input("Revenue per row")
    rerun(at)
    assert message_under(at, "new_expr") is None
    assert message_under(at, "new_name") is None
    assert "did you mean" in message_under(at, "new_filter")[1]
    at.text_input(key="new_filter").input("\"Region\" = 'North'")
    at.number_input(key="new_target").set_value(500.0)
    rerun(at)
    assert not at.error
    at.button(key="add_kpi").click()
    rerun(at)
    assert "Revenue per row" in [m.label for m in at.metric]


def messy_orders(rows: int = 600) -> tuple[bytes, pd.DataFrame]:
    """An export whose first number columns are identifiers (a row number, a postal code):
    M/D/YYYY dates, currency text with thousands separators, a segment of 3 values, a
    customer name of many values; seeded."""
    rng = random.Random(17)
    segments = ["Consumer", "Corporate", "Home Office"]
    records = []
    for i in range(rows):
        day = date(2024, 1, 1) + timedelta(days=rng.randrange(0, 182))
        records.append(
            {
                "Row ID": i + 1,
                "Postal Code": rng.randrange(10000, 99999),
                "Order Date": day,
                "Customer": f"Customer {rng.randrange(0, 250)}",
                "Segment": segments[rng.randrange(0, 3)],
                "Sales": round(rng.uniform(1, 60), 2),
            }
        )
    frame = pd.DataFrame(records)
    lines = ["Row ID,Postal Code,Order Date,Customer,Segment,Sales"]
    lines += [
        f"{r['Row ID']},{r['Postal Code']},{r['Order Date'].month}/{r['Order Date'].day}/"
        f'{r["Order Date"].year},{r["Customer"]},{r["Segment"]},"${r["Sales"]:,.2f}"'
        for r in records
    ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8"), frame


def number_text(value: float) -> str:
    """A number between 100 and 9,999 as a card shows it (whole, thousands separated)."""
    assert 100 <= value < 10_000, value
    return f"{value:,.0f}"


def test_defaults_come_from_the_data_and_the_preview_follows_the_fields(
    store_path: Path,
) -> None:
    content, frame = messy_orders()
    at = start(store_path)
    at.switch_page("pages/data.py")
    rerun(at)
    at.get("file_uploader")[0].set_value(("orders export.csv", content, "text/csv"))
    rerun(at)
    assert any(f"loaded {len(frame):,} rows" in s.body for s in at.success)
    at.switch_page("pages/dashboard.py")
    at = open_sections(rerun(at), "open_add_kpi")
    state = {k: at.session_state[k] for k in ("new_agg", "new_col", "new_time", "new_by")}
    assert state == {
        "new_agg": "sum",
        "new_col": "Sales",  # not Row ID nor Postal Code
        "new_time": "Order Date",
        "new_by": "Segment",  # 3 values; Customer has 250
    }
    placeholder = at.text_input(key="new_filter").proto.placeholder
    assert placeholder == "\"Segment\" <> 'Consumer'"
    # the preview: the latest month's sum, by pandas over the same rows
    month = frame["Order Date"].map(lambda d: d.replace(day=1))
    latest = frame[month == month.max()]
    (preview,) = [m for m in at.metric if m.label.startswith("Preview")]
    assert preview.label == f"Preview · latest value ({month.max():%b %Y}, all categories)"
    assert preview.value == number_text(latest["Sales"].sum())
    # typing a filter and another measure changes it, computed again from the rows
    at.text_input(key="new_filter").input("\"Segment\" = 'Corporate'")
    at.selectbox(key="new_agg").select("avg")
    at.selectbox(key="new_by").select("(none)")
    rerun(at)
    corporate = latest[latest["Segment"] == "Corporate"]["Sales"]
    (preview,) = [m for m in at.metric if m.label.startswith("Preview")]
    assert preview.label == f"Preview · latest value ({month.max():%b %Y})"
    assert preview.value == f"{corporate.mean():,.2f}".rstrip("0").rstrip(".")
    at.radio(key="new_mode").set_value("Expression")
    rerun(at)
    at.text_input(key="new_expr").input('count_distinct("Customer")')
    at.selectbox(key="new_grain").select("quarter")
    rerun(at)
    quarter = frame["Order Date"].map(lambda d: date(d.year, 3 * ((d.month - 1) // 3) + 1, 1))
    last = frame[(quarter == quarter.max()) & (frame["Segment"] == "Corporate")]
    (preview,) = [m for m in at.metric if m.label.startswith("Preview")]
    assert preview.value == number_text(last["Customer"].nunique())


def test_editing_a_kpi_fills_the_same_editor_and_saves_in_place(store_path: Path) -> None:
    sample = pd.read_csv(ROOT / "data" / "sample_sales.csv", parse_dates=["Date"])
    at = open_sections(start(store_path, {"kpi": "Profit Margin"}), "open_edit_kpi")
    spec = next(k for k in SAMPLE_KPIS if k["name"] == "Profit Margin")
    assert at.text_input(key="edit_name").value == "Profit Margin"
    assert at.radio(key="edit_mode").value == "Expression"
    assert at.text_input(key="edit_expr").value == spec["measure"]
    assert at.selectbox(key="edit_by").value == spec["by"]
    assert at.selectbox(key="edit_unit").value == "percent"
    assert at.text_input(key="edit_owner").value == spec["owner"]
    assert at.number_input(key="edit_target").value == pytest.approx(spec["target"]["total"])
    # the preview of the saved definition: the latest month's margin, by pandas
    latest = sample[sample["Date"].dt.to_period("M") == sample["Date"].max().to_period("M")]
    margin = (latest["Revenue"].sum() - latest["Cost"].sum()) / latest["Revenue"].sum()
    (preview,) = [m for m in at.metric if m.label.startswith("Preview")]
    assert preview.value == f"{margin * 100:.1f}%"
    at.text_input(key="edit_owner").input("CFO")
    at.number_input(key="edit_target").set_value(0.5)
    rerun(at)
    at.button(key="save_kpi").click()
    rerun(at)
    assert not [t for t in at.text_input if t.key == "edit_name"]  # the dialog closed
    after = saved_kpis()
    assert [k.name for k in after] == [k["name"] for k in SAMPLE_KPIS]  # no copy was made
    edited = next(k for k in after if k.name == "Profit Margin")
    assert (edited.owner, edited.target.total) == ("CFO", 0.5)
    assert edited.measure == spec["measure"]
    assert any("owner: CFO" in c.value for c in at.caption)
    # opened again, it shows what was saved
    at = open_sections(at, "open_edit_kpi")
    assert at.text_input(key="edit_owner").value == "CFO"
