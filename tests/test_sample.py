"""The bundled sample: a deterministic generator, the documented columns, and KPIs that use
only existing columns, cover every KPI type and land on a mix of statuses (checked in pandas,
independently of the engine)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from kpi_logic.kpi_file import kpis_from_yaml
from kpi_logic.model import KPI, KPI_TYPES

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLE_CSV = DATA / "sample_sales.csv"
SAMPLE_KPIS = DATA / "sample_kpis.yaml"
FREQ = {"month": "M", "quarter": "Q", "year": "Y"}
AGGREGATES = {
    "sum": "sum",
    "avg": "mean",
    "count": "count",
    "count_distinct": "nunique",
    "min": "min",
    "max": "max",
    "median": "median",
}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_sample", DATA / "generate_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return pd.read_csv(SAMPLE_CSV, parse_dates=["Date"])


@pytest.fixture(scope="module")
def kpis() -> list[KPI]:
    return kpis_from_yaml(SAMPLE_KPIS.read_text("utf-8"))


def test_generator_is_deterministic_and_matches_the_committed_file(tmp_path: Path) -> None:
    generator = _generator()
    first = generator.write(tmp_path / "a.csv").read_bytes()
    second = generator.write(tmp_path / "b.csv").read_bytes()
    assert first == second
    assert first == SAMPLE_CSV.read_bytes(), "run python data/generate_sample.py and commit"


def test_sample_shape(sample: pd.DataFrame) -> None:
    assert list(sample.columns) == _generator().COLUMNS
    days = pd.date_range("2023-01-01", "2024-12-31", freq="D")
    assert list(sample["Date"].drop_duplicates()) == list(days)
    assert sample.groupby("Date").size().nunique() == 1  # every combination every day
    assert 20_000 <= len(sample) <= 60_000
    assert SAMPLE_CSV.stat().st_size < 8_000_000
    assert sample.notna().all().all()
    assert sorted(sample["Region"].unique()) == ["East", "North", "South", "West"]
    assert sorted(sample["Channel"].unique()) == ["Online", "Partner", "Retail"]
    assert sample.groupby("Team")["Region"].nunique().max() == 1  # a team works in one region


def test_sample_figures_are_consistent(sample: pd.DataFrame) -> None:
    numbers = sample.select_dtypes("number")
    assert (numbers >= 0).all().all()
    pairs = [
        ("Conversions", "Leads"),
        ("Tickets Resolved On Time", "Support Tickets"),
        ("Defects", "Units Inspected"),
        ("Units Inspected", "Units"),
        ("On Time Deliveries", "Deliveries"),
        ("Cost", "Revenue"),
    ]
    for part, whole in pairs:
        assert (sample[part] <= sample[whole]).all(), f"{part} > {whole}"
    assert sample["Customer Satisfaction"].between(1, 5).all()


def test_kpis_cover_every_type_and_use_existing_columns(
    sample: pd.DataFrame, kpis: list[KPI]
) -> None:
    assert 8 <= len(kpis) <= 10
    assert {k.type for k in kpis} == set(KPI_TYPES)
    for kpi in kpis:
        used = re.findall(r'"([^"]+)"', kpi.measure + " " + (kpi.filter or ""))
        used += [c for c in (kpi.time, kpi.by) if c]
        missing = set(used) - set(sample.columns)
        assert not missing, f"{kpi.name} uses unknown columns {missing}"
    assert {k.grain for k in kpis} == {"month", "quarter", "year"}
    assert any(k.by is None for k in kpis)
    assert any(k.filter for k in kpis)
    assert any(k.target.by_category for k in kpis)
    assert any(k.due for k in kpis)
    assert {k.direction for k in kpis} == {"higher", "lower"}


def _evaluate(frame: pd.DataFrame, text: str) -> float:
    """A measure of the sample's KPI language (aggregates, + - * /, parentheses) in pandas."""
    python = re.sub(
        r'(\w+)\("([^"]+)"\)', lambda m: f"_agg({m[1]!r}, {m[2]!r})", text
    )  # sum("Revenue") -> _agg('sum', 'Revenue')
    names = {"_agg": lambda fn, col: frame[col].agg(AGGREGATES[fn]), "__builtins__": {}}
    return float(eval(python, names))


def _latest_statuses(sample: pd.DataFrame, kpi: KPI) -> dict[str, str]:
    """Status per category in the KPI's latest period."""
    rows = sample
    if kpi.filter:  # the sample's filters are simple comparisons
        query = re.sub(r'"([^"]+)"', r"`\1`", kpi.filter).replace("<>", "!=")
        rows = sample.query(query)
    period = rows[kpi.time].dt.to_period(FREQ[kpi.grain]).dt.start_time.dt.date
    latest = rows[period == period.max()]
    statuses = {}
    for category, cell in latest.groupby(kpi.by):
        actual = _evaluate(cell, kpi.measure)
        target = kpi.target_for(category, period.max())
        attainment = target / actual if kpi.direction == "lower" else actual / target
        if attainment >= kpi.bands.good:
            statuses[category] = "on target"
        else:
            statuses[category] = "at risk" if attainment >= kpi.bands.warning else "off target"
    return statuses


def test_targets_give_a_mix_of_statuses(sample: pd.DataFrame, kpis: list[KPI]) -> None:
    seen = set()
    for kpi in kpis:
        if kpi.by is None:
            continue
        statuses = _latest_statuses(sample, kpi)
        assert len(set(statuses.values())) >= 2, f"{kpi.name}: {statuses}"
        seen |= set(statuses.values())
    assert seen == {"on target", "at risk", "off target"}
