"""The docs cannot drift from the code: README's KPI-file example works on the bundled sample,
ARCHITECTURE.md's public signatures and modules match the engine, and the package metadata
pins what requirements.txt pins."""

from __future__ import annotations

import importlib
import inspect
import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from kpi_logic.kpi_file import kpis_from_yaml
from kpi_logic.sql import sandboxed_connection
from tests import frames

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
ARCHITECTURE = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
SIGNATURE = re.compile(r"`([A-Za-z_][\w.]*)\(([^`()]*)\)(?: -> [^`]+)?`")


def _readme_kpi_example() -> str:
    section = README.split("## KPI files", 1)[1]
    return section.split("```yaml", 1)[1].split("```", 1)[0]


def test_readme_kpi_file_example_evaluates_on_the_sample() -> None:
    [kpi] = kpis_from_yaml(_readme_kpi_example())
    assert (kpi.name, kpi.by, kpi.grain, kpi.target.default) == ("Sales", "Region", "month", 7e5)
    sample = pd.read_csv(ROOT / "data" / "sample_sales.csv", parse_dates=["Date"])
    kept = sample[sample["Channel"] != "Partner"]
    expected = kept.groupby([kept["Date"].dt.to_period("M").dt.start_time, "Region"])["Revenue"]
    con = sandboxed_connection(allowed_dirs=[ROOT / "data"])
    con.execute(
        "CREATE TABLE sales AS SELECT * FROM read_csv(?)", [str(ROOT / "data" / "sample_sales.csv")]
    )
    rows = frames.aggregate(con, "sales", [kpi])
    cells = rows[rows["category"].notna()]
    got = {(pd.Timestamp(r.period), r.category): r.actual for r in cells.itertuples()}
    assert got == pytest.approx({(p, c): v for (p, c), v in expected.sum().items()})


def _documented_signatures() -> list[tuple[str, str, list[str]]]:
    """``(module, function, parameter names)`` for each signature in a section of
    ARCHITECTURE.md whose heading names engine modules."""
    found = []
    for section in ARCHITECTURE.split("\n## ")[1:]:
        heading, body = section.split("\n", 1)
        modules = re.findall(r"`kpi_logic/([a-z_/]+)\.py`", heading)
        text = " ".join(body.split())  # signatures may wrap
        for name, params in SIGNATURE.findall(text):
            if params.strip() == "...":  # arguments left out on purpose
                continue
            names = [
                re.split(r"[:=]", p)[0].strip().lstrip("*")
                for p in params.split(",")
                if p.strip() not in ("", "*", "...")
            ]
            found += [(m.replace("/", "."), name, names) for m in modules[:1]]
    return found


def _owner(module: str, name: str) -> object:
    """The function ``name`` documented in the section of ``module`` (or of a module beside
    it in the same heading, such as forecast in compute's)."""
    candidates = [module] + [
        m.replace("/", ".")
        for m in re.findall(r"`kpi_logic/([a-z_/]+)\.py`", ARCHITECTURE)
        if m.replace("/", ".") != module
    ]
    for candidate in candidates:
        found: object = importlib.import_module(f"kpi_logic.{candidate}")
        for part in name.split("."):  # a method is written Class.method
            found = getattr(found, part, None)
        if callable(found):
            return found
    raise AssertionError(f"ARCHITECTURE.md documents {name}() but no engine module has it")


@pytest.mark.parametrize(
    ("module", "name", "params"),
    _documented_signatures(),
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_architecture_signatures_match_the_code(module: str, name: str, params: list[str]) -> None:
    function = _owner(module, name)
    actual = [p for p in inspect.signature(function).parameters if p != "self"]
    assert actual[: len(params)] == params, f"{name}{inspect.signature(function)}"
    required = [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and p.name != "self"
    ]
    assert set(required) <= set(params), f"undocumented required parameters of {name}"


def test_architecture_names_every_engine_module_and_only_real_ones() -> None:
    documented = set(re.findall(r"`kpi_logic/([a-z_/]+)\.py`", ARCHITECTURE))
    real = {
        str(p.relative_to(ROOT / "kpi_logic").with_suffix(""))
        for p in (ROOT / "kpi_logic").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }
    assert documented <= real, documented - real
    assert real <= documented, f"modules ARCHITECTURE.md does not describe: {real - documented}"


def test_package_metadata_pins_what_requirements_txt_pins() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert sorted(project["dependencies"]) == sorted(pinned)
    assert project["scripts"]["kpi-explorer"] == "kpi_logic.cli:main"
