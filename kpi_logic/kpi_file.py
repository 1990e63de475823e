"""The KPI file: YAML in and out, read with limits checked while the YAML is composed.

A KPI file looks like this (README.md, "KPI files", documents every key)::

    kpis:
      - name: Sales
        measure: sum("Sales")
        time: Order Date
        grain: month
        by: Region
        target: {default: 500000, by: {West: 800000}, total: 2000000}

Target forms in YAML: a number (every cell); or a mapping with any of ``default`` (a number),
``from`` (a day -> the default from that day's period on: ``{default: 50000, from:
{2025-07-01: 60000}}``), ``by`` (category -> number), ``periods`` (first day of a period ->
number: the total's, for a KPI with ``by``), ``by_period`` (category -> first day of a period
-> number) and ``total`` (the all-categories row of a KPI with ``by``). The rules are
:meth:`kpi_logic.model.KPI.target_for`'s. Beside ``kpis``, ``fiscal_year_start`` (a month
number, 1 by default) sets the month the KPI set's fiscal year starts in, and ``currency``
(a symbol such as ``€``; by default the locale's, else ``$``) the symbol of its currency KPIs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, cast

import yaml
from yaml._yaml import CParser  # what yaml.cyaml uses (and does not re-export)
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, NodeEvent
from yaml.nodes import Node, ScalarNode
from yaml.resolver import Resolver

from kpi_logic.errors import KPIDefinitionError
from kpi_logic.model import _BAND_KEYS, KPI, Bands, Target, _fail, _show, validate

# Limits of a KPI file, checked while it is read (before anything is built from it):
MAX_FILE_CHARS = 1_000_000  # the text (the store keeps KPI files of up to as many characters)
MAX_NODES = 200_000  # values, counting each alias as a copy of what it refers to
MAX_DEPTH = 32  # levels of values, the whole file being level 1 (a KPI file needs 7)
MAX_NUMBER_CHARS = 1_000  # the text of one number (Python refuses ints past 4,300 digits)

_KPI_KEYS = (
    "name",
    "type",
    "owner",
    "description",
    "unit",
    "measure",
    "filter",
    "time",
    "grain",
    "by",
    "direction",
    "target",
    "bands",
    "due",
)
_TARGET_KEYS = ("default", "from", "by", "periods", "by_period", "total")
_FILE_KEYS = ("kpis", "fiscal_year_start", "currency")


class _Loader(Composer, CParser, SafeConstructor, Resolver):
    """PyYAML's safe loading (libyaml's parser, PyYAML's composer and safe constructor) that
    stops at the first value past :data:`MAX_DEPTH` levels or :data:`MAX_NODES` values, an
    alias counting as many values as what it refers to (a few KB of aliases can stand for
    gigabytes), and at numbers longer than :data:`MAX_NUMBER_CHARS`; dates that don't exist
    (2024-02-30) stay text, so the key they are used for names them."""

    def __init__(self, text: str) -> None:
        CParser.__init__(self, text)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0
        self._nodes = 0
        self._sizes: dict[int, int] = {}  # id of an anchored node -> values it holds

    def compose_node(self, parent: Node | None, index: int | Node | None) -> Node | None:
        """Compose one value as PyYAML does, counting it (and what an alias stands for)."""
        # called where a value starts: its event is an alias, scalar, sequence or mapping
        event = cast(NodeEvent, self.peek_event())
        if isinstance(event, AliasEvent):
            # types-PyYAML says int; PyYAML passes None (document, key) and a key node too
            node = super().compose_node(parent, index)  # type: ignore[arg-type]
            size = self._sizes.get(id(node))
            if size is None:
                raise _file_error("an alias refers to the list or mapping it is in", event)
            self._count(size, event)
            return node
        if self._depth >= MAX_DEPTH:
            raise _file_error(f"values nest more than {MAX_DEPTH} levels deep", event)
        self._depth += 1
        before = self._nodes
        try:
            node = super().compose_node(parent, index)  # type: ignore[arg-type]  # as above
        finally:
            self._depth -= 1
        self._count(1, event)
        if event.anchor is not None:
            self._sizes[id(node)] = self._nodes - before
        return node

    def _count(self, values: int, event: object) -> None:
        self._nodes += values
        if self._nodes > MAX_NODES:
            raise _file_error(
                f"it holds more than {MAX_NODES:,} values (aliases count as copies)", event
            )

    def construct_yaml_int(self, node: ScalarNode) -> int:
        """An integer, refused past :data:`MAX_NUMBER_CHARS` characters."""
        if len(node.value) > MAX_NUMBER_CHARS:
            raise _file_error(f"a number is longer than {MAX_NUMBER_CHARS:,} characters", node)
        return super().construct_yaml_int(node)

    def construct_timestamp_or_text(self, node: ScalarNode) -> date | str:
        """A date or time; one that does not exist (2024-02-30) stays text."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return node.value


# types-PyYAML bounds the loader type to PyYAML's own loader classes, not their subclasses
_Loader.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:int", _Loader.construct_yaml_int
)
_Loader.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:timestamp", _Loader.construct_timestamp_or_text
)


def _file_error(problem: str, where: object) -> KPIDefinitionError:
    mark = getattr(where, "start_mark", None)
    line = f" (line {mark.line + 1})" if mark is not None else ""
    return KPIDefinitionError(f"The KPI file is refused{line}: {problem}.")


class _Dumper(yaml.SafeDumper):
    """Safe dumping that writes a value used twice (the same date object) twice, not as an
    anchor and alias: a KPI file stays plain."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _load_yaml(text: str) -> object:
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def kpis_from_yaml(text: str) -> list[KPI]:
    """Parse and validate a KPI file (``kpis:`` list, or a bare list of KPIs).

    Files past the limits above (:data:`MAX_FILE_CHARS`, ...) are refused with one line.
    """
    if len(text) > MAX_FILE_CHARS:
        raise KPIDefinitionError(
            f"The KPI file is refused: it is longer than {MAX_FILE_CHARS:,} characters."
        )
    try:
        data = _load_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise KPIDefinitionError(f"The KPI file is not valid YAML{where}: {problem}.") from err
    fiscal: object = 1
    currency: object = ""
    if isinstance(data, Mapping):
        extra = sorted(str(k) for k in data if k not in _FILE_KEYS)
        if extra:
            raise KPIDefinitionError(
                f"The KPI file has an unknown key {_show(extra[0])} "
                f"(known: {', '.join(_FILE_KEYS)})."
            )
        fiscal = data.get("fiscal_year_start", 1)
        currency = data.get("currency") or ""
        data = data.get("kpis")
    if data is None:
        return []
    if not isinstance(data, list):
        raise KPIDefinitionError('The KPI file must hold a list of KPIs under "kpis:".')
    kpis, seen = [], set()
    for i, item in enumerate(data, start=1):
        kpi = _kpi_from_dict(item, i)
        kpi = dataclasses.replace(
            kpi, fiscal_year_start=cast(int, fiscal), currency=cast(str, currency)
        )
        kpi = validate(kpi)
        if kpi.name in seen:
            raise KPIDefinitionError(f'Two KPIs are named "{kpi.name}"; names must be unique.')
        seen.add(kpi.name)
        kpis.append(kpi)
    return kpis


def kpis_to_yaml(kpis: list[KPI]) -> str:
    """The KPI file for ``kpis``; ``kpis_from_yaml(kpis_to_yaml(k)) == k``. The fiscal year
    start and the currency are the KPI set's: the first KPI's that is not the default is
    written for all."""
    items = []
    fiscal = next((k.fiscal_year_start for k in kpis if k.fiscal_year_start != 1), 1)
    currency = next((k.currency for k in kpis if k.currency), "")
    for kpi in kpis:
        item: dict[str, Any] = {"name": kpi.name}
        for key in _KPI_KEYS[1:]:
            value = getattr(kpi, key)
            default = _DEFAULTS[key]
            if value == default or value in (None, ""):
                continue
            if key == "target":
                value = _target_to_yaml(value)
            elif key == "bands":
                value = {"good": _plain(value.good), "warning": _plain(value.warning)}
            item[key] = value
        items.append(item)
    document: dict[str, Any] = {"fiscal_year_start": fiscal} if fiscal != 1 else {}
    if currency:
        document["currency"] = currency
    return yaml.dump(
        {**document, "kpis": items}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )


_DEFAULTS = {f.name: getattr(KPI("", ""), f.name) for f in dataclasses.fields(KPI)}


def _kpi_from_dict(item: object, position: int) -> KPI:
    if not isinstance(item, Mapping):
        raise KPIDefinitionError(f"KPI number {position} must be a mapping of keys to values.")
    raw_name = item.get("name")
    if isinstance(raw_name, bool | Mapping | list):
        raise KPIDefinitionError(
            f"KPI number {position}: name must be text, not {_show(raw_name)}."
        )
    if raw_name is None or not str(raw_name).strip():
        raise KPIDefinitionError(f'KPI number {position} needs a "name".')
    name = str(raw_name).strip()
    for key in item:
        if key not in _KPI_KEYS:
            raise _fail(name, f"unknown key {_show(key)} (known: {', '.join(_KPI_KEYS)})")
    fields: dict[str, Any] = {"name": name}
    for key in (
        "measure",
        "type",
        "owner",
        "description",
        "unit",
        "filter",
        "time",
        "grain",
        "by",
        "direction",
    ):
        if item.get(key) is not None:
            fields[key] = _text(name, key, item[key])
    if "measure" not in fields:
        raise _fail(name, 'needs a "measure", e.g. sum("Sales")')
    if item.get("target") is not None:
        fields["target"] = _target_from_yaml(name, item["target"])
    if item.get("bands") is not None:
        fields["bands"] = _bands_from_yaml(name, item["bands"])
    if item.get("due") is not None:
        fields["due"] = _date(name, "due", item["due"])
    return validate(KPI(**fields))


def _text(kpi: str, key: str, value: object) -> str:
    if isinstance(value, bool | Mapping | list):
        raise _fail(kpi, f"{key} must be text, not {_show(value)}")
    return str(value).strip()


def _date(kpi: str, where: str, value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _fail(kpi, f"{where} {_show(value)} is not a date like 2017-12-31") from None


def _category(kpi: str, value: object) -> str:
    if isinstance(value, bool):
        raise _fail(kpi, f"target category {value} must be quoted (YAML reads it as true/false)")
    return value.isoformat() if isinstance(value, date) else str(value)


def _mapping(kpi: str, where: str, value: object) -> Mapping:
    if not isinstance(value, Mapping):
        raise _fail(kpi, f"{where} must be a mapping, e.g. {{West: 800000}}")
    return value


def _target_from_yaml(kpi: str, value: object) -> Target:
    if not isinstance(value, Mapping):
        return Target(default=cast("float | None", value))  # any YAML value: validate() checks
    for key in value:
        if key not in _TARGET_KEYS:
            raise _fail(kpi, f"unknown target key {_show(key)} (known: {', '.join(_TARGET_KEYS)})")
    by_period = {
        _date(kpi, "target period", p): v
        for p, v in _mapping(kpi, "target periods", value.get("periods") or {}).items()
    }
    by_category_period = {}
    for c, periods in _mapping(kpi, "target by_period", value.get("by_period") or {}).items():
        for p, v in _mapping(kpi, f"target by_period {_show(c)}", periods or {}).items():
            by_category_period[(_category(kpi, c), _date(kpi, "target period", p))] = v
    default_from = {
        _date(kpi, "target from", day): v
        for day, v in _mapping(kpi, "target from", value.get("from") or {}).items()
    }
    return Target(
        default=value.get("default"),
        default_from=default_from,
        by_category={
            _category(kpi, c): v
            for c, v in _mapping(kpi, "target by", value.get("by") or {}).items()
        },
        by_period=by_period,
        by_category_period=by_category_period,
        total=value.get("total"),
    )


def _bands_from_yaml(kpi: str, value: object) -> Bands:
    value = _mapping(kpi, "bands", value)
    for key in value:
        if key not in _BAND_KEYS:
            raise _fail(kpi, f"unknown bands key {_show(key)} (known: good, warning)")
    return Bands(**value)


def _plain(value: float) -> float | int:
    """700000.0 -> 700000 for a tidy file (loads back equal)."""
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def _target_to_yaml(target: Target) -> float | int | dict[str, Any]:
    if target.default is not None and target == Target(default=target.default):
        return _plain(target.default)
    out: dict[str, Any] = {}
    if target.default is not None:
        out["default"] = _plain(target.default)
    if target.default_from:
        out["from"] = {d: _plain(v) for d, v in sorted(target.default_from.items())}
    if target.by_category:
        out["by"] = {c: _plain(v) for c, v in target.by_category.items()}
    if target.by_period:
        out["periods"] = {p: _plain(v) for p, v in sorted(target.by_period.items())}
    if target.by_category_period:
        nested: dict[str, dict[date, float | int]] = {}
        for (c, p), v in sorted(target.by_category_period.items()):
            nested.setdefault(c, {})[p] = _plain(v)
        out["by_period"] = nested
    if target.total is not None:
        out["total"] = _plain(target.total)
    return out
