"""View state to and from URL query parameters, and share links.

A link carries only ids, a KPI name, target overrides, a date range and category filters; every part
is checked on the way in and a bad part is dropped with a message, never raised. Values are
decoded with ``json.loads`` only (never pickle or eval), each at most
:data:`MAX_VALUE_CHARS` characters.

>>> state = ViewState(kpi="Sales", targets={OverrideKey("Sales"): 700000.0})
>>> to_query_params(state)
{'kpi': 'Sales', 't': '{"Sales":700000.0}'}
>>> from_query_params(to_query_params(state)) == (state, [])
True
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from kpi_logic.model import is_valid_target
from kpi_logic.store import MAX_NAME_CHARS, is_valid_id
from kpi_logic.targets import OverrideKey
from kpi_logic.windows import WINDOWS

PAGES = ("dashboard", "data", "review")  # URL paths of the app's pages
DEFAULT_PAGE = "dashboard"
MAX_VALUE_CHARS = 2_000
_LABELS = {
    "ds": "dataset",
    "dv": "dataset version",
    "ks": "KPI set",
    "kpi": "KPI",
    "t": "targets",
    "from": "start date",
    "to": "end date",
    "f": "category filters",
    "v": "saved view",
    "w": "time window",
}


@dataclass
class ViewState:
    """What a shared link reopens; ``page`` is the URL path, the rest are query parameters."""

    page: str = DEFAULT_PAGE
    dataset: str | None = None
    dataset_version: int | None = None  # None: the dataset's current version, whichever it is
    kpi_set: str | None = None
    kpi: str | None = None
    targets: dict[OverrideKey, float] = field(default_factory=dict)
    start: date | None = None
    end: date | None = None
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    view: str | None = None
    window: str | None = None  # one of windows.WINDOWS; None: the latest period of each KPI


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def to_query_params(state: ViewState) -> dict[str, str]:
    """The query parameters for ``state``; empty parts are left out."""
    params = {
        "ds": state.dataset,
        "dv": str(state.dataset_version) if state.dataset_version else None,
        "ks": state.kpi_set,
        "kpi": state.kpi,
        "t": _json(dict(sorted((k.text, v) for k, v in state.targets.items())))
        if state.targets
        else None,
        "from": state.start.isoformat() if state.start else None,
        "to": state.end.isoformat() if state.end else None,
        "f": _json({k: list(v) for k, v in sorted(state.filters.items())})
        if state.filters
        else None,
        "v": state.view,
        "w": state.window,
    }
    return {key: value for key, value in params.items() if value}


def share_url(page_url: str, state: ViewState) -> str:
    """A link to ``state`` from the address of any page of the app: the page as path, the
    rest as query.

    >>> share_url("https://kpi.example/data?ds=x", ViewState(page="review"))
    'https://kpi.example/review'
    """
    url = app_root(page_url)
    if state.page != DEFAULT_PAGE:
        url += quote(state.page, safe="")
    query = urlencode(to_query_params(state))
    return f"{url}?{query}" if query else url


def app_root(page_url: str) -> str:
    """The app's base address (ending in ``/``) from the address of one of its pages.

    >>> app_root("http://host:8501/apps/kpi/review?kpi=Sales")
    'http://host:8501/apps/kpi/'
    >>> app_root("http://data:8501")
    'http://data:8501/'
    """
    parts = urlsplit(page_url)
    folder, _, last = parts.path.rstrip("/").rpartition("/")
    path = folder if last in PAGES else parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path + "/", "", ""))


def from_query_params(params: Mapping[str, str | list[str]]) -> tuple[ViewState, list[str]]:
    """Read a :class:`ViewState` from query parameters; return it and the problems found.

    Unknown keys are ignored (other widgets keep their own state in the URL). A bad part is
    left out of the state and described in the problems, so a damaged link still opens.
    """
    problems: list[str] = []

    def read(key: str, parse: Callable[[str, list[str]], Any]) -> Any:
        raw = _single(params, key, problems)
        return None if raw is None else parse(raw, problems)

    state = ViewState(
        dataset=read("ds", _id("ds")),
        dataset_version=read("dv", _version),
        kpi_set=read("ks", _id("ks")),
        kpi=read("kpi", _name),
        targets=read("t", _targets) or {},
        start=read("from", _date("from")),
        end=read("to", _date("to")),
        filters=read("f", _filters) or {},
        view=read("v", _id("v")),
        window=read("w", _window),
    )
    if state.start and state.end and state.start > state.end:
        problems.append("The link's start date is after its end date; the dates were ignored.")
        state.start = state.end = None
    return state, problems


def _single(params: Mapping[str, Any], key: str, problems: list[str]) -> str | None:
    """The one text value of ``key``, or None (with a problem if it was unusable)."""
    raw = params.get(key)
    label = _LABELS[key]
    if isinstance(raw, list | tuple):
        if len(raw) != 1:
            problems.append(f"The link gives the {label} {len(raw)} times; it was ignored.")
            return None
        raw = raw[0]
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        problems.append(f"The link's {label} is not text; it was ignored.")
        return None
    if len(raw) > MAX_VALUE_CHARS:
        problems.append(
            f"The link's {label} is too long ({len(raw):,} characters); it was ignored."
        )
        return None
    return raw


def _id(key: str) -> Callable[[str, list[str]], str | None]:
    def parse(raw: str, problems: list[str]) -> str | None:
        if is_valid_id(raw):
            return raw
        problems.append(f"The link's {_LABELS[key]} id is not valid; it was ignored.")
        return None

    return parse


def _version(raw: str, problems: list[str]) -> int | None:
    if raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**31:
        return int(raw)
    problems.append(f"The link's dataset version {_show(raw)} is not a version number; ignored.")
    return None


def _date(key: str) -> Callable[[str, list[str]], date | None]:
    def parse(raw: str, problems: list[str]) -> date | None:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            problems.append(
                f"The link's {_LABELS[key]} {_show(raw)} is not a date; it was ignored."
            )
            return None

    return parse


def _valid_name(value: object) -> bool:
    return (
        isinstance(value, str)
        and bool(value.strip())
        and len(value) <= MAX_NAME_CHARS
        and value.isprintable()
    )


def _window(raw: str, problems: list[str]) -> str | None:
    if raw in WINDOWS:
        return raw
    problems.append(
        f"The link's time window {_show(raw)} is not one of {', '.join(WINDOWS)}; the latest "
        "period is shown."
    )
    return None


def _name(raw: str, problems: list[str]) -> str | None:
    if _valid_name(raw):
        return raw
    problems.append(f"The link's KPI name {_show(raw)} is not valid; it was ignored.")
    return None


def _decode(raw: str, key: str, problems: list[str]) -> Any:
    """JSON-decode ``raw``; NaN and Infinity literals are refused."""

    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        return json.loads(raw, parse_constant=refuse)
    except (ValueError, RecursionError):
        problems.append(f"The link's {_LABELS[key]} could not be read; they were ignored.")
        return None


def _targets(raw: str, problems: list[str]) -> dict[OverrideKey, float]:
    decoded = _decode(raw, "t", problems)
    if decoded is None:
        return {}
    if not isinstance(decoded, dict):
        problems.append("The link's targets could not be read; they were ignored.")
        return {}
    targets = {}
    for name, value in decoded.items():
        if not _valid_name(name):
            problems.append(f"The link has a target for an invalid KPI name {_show(name)}.")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"The link's target for {_show(name)} is not a number; it was ignored.")
        elif not is_valid_target(value):
            problems.append(
                f"The link's target for {_show(name)} ({_show(str(value))}) is not a number "
                "of zero or more; it was ignored."
            )
        else:
            try:
                targets[OverrideKey.parse(name)] = float(value)
            except ValueError:
                problems.append(f"The link's target {_show(name)} names no real period.")
    return targets


def _filters(raw: str, problems: list[str]) -> dict[str, tuple[str, ...]]:
    decoded = _decode(raw, "f", problems)
    if decoded is None:
        return {}
    if not isinstance(decoded, dict):
        problems.append("The link's category filters could not be read; they were ignored.")
        return {}
    filters = {}
    for column, values in decoded.items():
        good = (
            tuple(v for v in values if isinstance(v, str) and len(v) <= MAX_NAME_CHARS)
            if isinstance(values, list)
            else ()
        )
        if not _valid_name(column) or not isinstance(values, list) or len(good) != len(values):
            problems.append("Some category filters in the link are not valid; they were ignored.")
        if _valid_name(column) and good:
            filters[column] = good
    return filters


def _show(text: str) -> str:
    """``text`` quoted and shortened for a message."""
    return repr(text if len(text) <= 40 else text[:40] + "…")


def check_against(
    state: ViewState, kpi_names: Sequence[str], columns: Sequence[str]
) -> tuple[ViewState, list[str]]:
    """``state`` less what the dataset and KPI set it opens do not have: targets and a
    selected KPI of unknown KPIs, filters on unknown columns; and the problems found."""
    problems: list[str] = []
    kpi = state.kpi
    if kpi is not None and kpi not in kpi_names:
        problems.append(f"The link's KPI {_show(kpi)} is not in this KPI set; it was ignored.")
        kpi = None
    targets = {}
    for key, value in state.targets.items():
        named = key.named_in(kpi_names)
        if named.kpi in kpi_names:
            targets[named] = value
        else:
            problems.append(
                f"The link's target {_show(key.text)} is for no KPI of this set; ignored."
            )
    filters = {}
    for column, values in state.filters.items():
        if column in columns:
            filters[column] = values
        else:
            problems.append(
                f"The link filters on {_show(column)}, a column this dataset does not have; "
                "that filter was ignored."
            )
    if not problems and targets == state.targets:
        return state, []
    return replace(state, kpi=kpi, targets=targets, filters=filters), problems
