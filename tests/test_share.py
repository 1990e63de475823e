"""Share links: view state round trips through URLs; hostile parameters never raise."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from kpi_logic.share import (
    MAX_VALUE_CHARS,
    ViewState,
    from_query_params,
    share_url,
    to_query_params,
)
from kpi_logic.store import new_id
from kpi_logic.targets import OverrideKey

FULL = ViewState(
    page="review",
    dataset=new_id(),
    kpi_set=new_id(),
    kpi="Ventes été; net",
    targets={
        OverrideKey("Sales"): 700000.0,
        OverrideKey("Profit; ratio"): 0.12,
        OverrideKey("Café 北京", category="West"): 3.5,
        OverrideKey('q"uote', period=date(2024, 12, 1)): 1e300,
    },
    start=date(2017, 1, 1),
    end=date(2017, 12, 31),
    filters={"Region": ("West", "Ost, Süd", "a;b", ""), "Product; Line": ("A",)},
    view=new_id(),
)


def test_empty_state_has_no_params() -> None:
    assert to_query_params(ViewState()) == {}
    assert from_query_params({}) == (ViewState(), [])
    assert share_url("https://kpi.example.com", ViewState()) == "https://kpi.example.com/"


def test_query_params_round_trip() -> None:
    params = to_query_params(FULL)
    assert set(params) == {"ds", "ks", "kpi", "t", "from", "to", "f", "v"}
    state, problems = from_query_params(params)
    assert problems == []
    assert state == ViewState(**{**FULL.__dict__, "page": "dashboard"})


def test_share_url_round_trip_through_a_parsed_url() -> None:
    url = share_url("https://kpi.example.com/", FULL)
    parts = urlsplit(url)
    assert parts.path == "/review"
    state, problems = from_query_params(parse_qs(parts.query))
    assert problems == []
    assert state.targets == FULL.targets
    assert state.filters == FULL.filters
    assert state.kpi == FULL.kpi
    assert state.view == FULL.view


def test_single_values_in_lists_are_accepted() -> None:
    state, problems = from_query_params({"kpi": ["Sales"], "from": ["2020-02-29"]})
    assert (state.kpi, state.start, problems) == ("Sales", date(2020, 2, 29), [])


HOSTILE = [
    ({"ds": "../../etc/passwd"}, "dataset id is not valid"),
    ({"ks": "x' OR 1=1 --"}, "KPI set id is not valid"),
    ({"v": "A" * 21}, "saved view id is not valid"),
    ({"v": "A" * 22 + "\n"}, "saved view id is not valid"),
    ({"ds": "A" * 100_000}, "too long"),
    ({"kpi": "K" * (MAX_VALUE_CHARS + 1)}, "too long"),
    ({"kpi": "K" * 201}, "KPI name"),
    ({"kpi": "bad\x00name"}, "KPI name"),
    ({"kpi": "   "}, "KPI name"),
    ({"t": '{"a": 1e309}'}, "not a number of zero or more"),
    ({"t": '{"a": -1e309}'}, "not a number of zero or more"),
    ({"t": '{"a": 1' + "0" * 400 + "}"}, "not a number of zero or more"),
    ({"t": '{"Revenue": -5}'}, "not a number of zero or more"),
    ({"t": '{"a": NaN}'}, "targets could not be read"),
    ({"t": '{"a": Infinity}'}, "targets could not be read"),
    ({"t": '{"a": "high"}'}, "not a number"),
    ({"t": '{"a": true}'}, "not a number"),
    ({"t": '{"a": [1]}'}, "not a number"),
    ({"t": '{"": 1}'}, "invalid KPI name"),
    ({"t": "[1, 2]"}, "targets could not be read"),
    ({"t": "a:1;b:2"}, "targets could not be read"),
    ({"t": "[" * 1999}, "targets could not be read"),
    ({"t": "__import__('os').system('id')"}, "targets could not be read"),
    ({"t": "gASVAAAAAAAAAAB9lC4="}, "targets could not be read"),  # a base64 pickle
    ({"f": '"West"'}, "category filters could not be read"),
    ({"f": '{"Region": [1, null]}'}, "category filters in the link are not valid"),
    ({"f": '{"Region": "West"}'}, "category filters in the link are not valid"),
    ({"f": "{" * 1500}, "category filters could not be read"),
    ({"from": "2020-13-01"}, "start date '2020-13-01' is not a date"),
    ({"to": "yesterday"}, "end date 'yesterday' is not a date"),
    ({"from": "2021-01-01", "to": "2020-01-01"}, "start date is after its end date"),
    ({"ds": ["a", "b"]}, "gives the dataset 2 times"),
    ({"kpi": []}, "gives the KPI 0 times"),
    ({"kpi": 5}, "KPI is not text"),
    ({"ds": [None]}, None),
    ({"from": b"2020-01-01"}, "start date is not text"),
    ({"kpi": ["😀" * 3000]}, "too long"),
]


@pytest.mark.parametrize(("params", "problem"), HOSTILE)
def test_hostile_params_are_dropped_with_a_problem(params: dict, problem: str | None) -> None:
    state, problems = from_query_params(params)
    assert state == ViewState()
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1, problems
        assert problem in problems[0], problems
        assert len(problems[0]) < 200


def test_bad_parts_are_dropped_and_good_parts_kept() -> None:
    good_id = new_id()
    state, problems = from_query_params(
        {
            "ds": good_id,
            "ks": "../../etc/passwd",
            "kpi": "Sales 📈",
            "t": '{"Sales": 5, "Margin": 1e309, "Bad": "x", "北京": 2.5}',
            "from": "2017-01-01",
            "to": "not a date",
            "f": '{"Region": ["West", 3, "Ost"]}',
            "unknown": "ignored",
            "embed": "true",
        }
    )
    assert state == ViewState(
        dataset=good_id,
        kpi="Sales 📈",
        targets={OverrideKey("Sales"): 5.0, OverrideKey("北京"): 2.5},
        start=date(2017, 1, 1),
        filters={"Region": ("West", "Ost")},
    )
    assert len(problems) == 5
    assert "Margin" in problems[1]
    assert "Bad" in problems[2]


def test_problem_messages_stay_short_for_huge_names() -> None:
    _, problems = from_query_params({"t": '{"' + "n" * 1900 + '": "x"}', "from": "9" * 1999})
    assert len(problems) == 2
    assert all(len(p) < 200 for p in problems)
