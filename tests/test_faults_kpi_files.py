"""Hostile and broken KPI files (aliases, deep nesting, huge numbers, wrong types, size) in the
model, the command line and the app's import; the command line's CSV neutralizes formulas."""

from __future__ import annotations

import csv
import io
import subprocess
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from kpi_logic import export
from kpi_logic.errors import KPIDefinitionError
from kpi_logic.kpi_file import (
    MAX_DEPTH,
    MAX_FILE_CHARS,
    MAX_NODES,
    MAX_NUMBER_CHARS,
    kpis_from_yaml,
    kpis_to_yaml,
)
from kpi_logic.model import KPI, Target
from tests.test_cli import run

ROOT = Path(__file__).resolve().parent.parent
HEAD = "kpis:\n  - name: Sales\n    measure: sum(x)\n    time: Day\n    by: Region\n"


def alias_bomb(categories: int = 2000, dates: int = 2000) -> str:
    """One anchored map of ``dates`` month starts reused under ``categories`` categories:
    ~80 KB that stands for ``categories * dates`` targets."""
    months = [date(1800 + i // 12, i % 12 + 1, 1).isoformat() for i in range(dates)]
    anchored = "{" + ", ".join(f"{m}: 5" for m in months) + "}"
    others = "".join(f"        c{i}: *m\n" for i in range(1, categories))
    return f"{HEAD}    target:\n      by_period:\n        c0: &m {anchored}\n{others}"


def refused(text: str) -> str:
    with pytest.raises(KPIDefinitionError) as caught:
        kpis_from_yaml(text)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_alias_bomb_is_refused_early_and_small() -> None:
    text = alias_bomb()
    assert 60_000 < len(text) < 100_000
    tracemalloc.start()
    try:
        message = refused(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"more than {MAX_NODES:,} values (aliases count as copies)" in message
    assert message.startswith("The KPI file is refused (line ")
    assert peak < 50 * 2**20  # the 4 million targets it stands for would take gigabytes


def test_node_count_counts_each_alias_as_a_copy() -> None:
    """A file of 5 + (n + 1) * (k + 1) values: one anchored list of n numbers used k times
    more; refused just past MAX_NODES, read (then refused for its unknown key) just under."""
    n = 999

    def document(uses: int) -> str:
        items = ", ".join(["1"] * n)
        return f"kpis: []\nx: [&a [{items}]" + ", *a" * uses + "]\n"

    under = (MAX_NODES - 5) // (n + 1) - 1
    assert 5 + (n + 1) * (under + 1) <= MAX_NODES < 5 + (n + 1) * (under + 2)
    assert 'unknown key "x"' in refused(document(under))
    assert "values (aliases count as copies)" in refused(document(under + 1))


def test_anchors_within_the_limits_still_load() -> None:
    text = (
        "kpis:\n"
        "  - &sales {name: Sales, measure: sum(x), bands: &b {good: 1.1, warning: 0.8}}\n"
        "  - {<<: *sales, name: Sales again}\n"
        "  - {name: Orders, measure: count(*), bands: *b}\n"
    )
    kpis = kpis_from_yaml(text)
    assert [k.name for k in kpis] == ["Sales", "Sales again", "Orders"]
    assert {(k.bands.good, k.bands.warning) for k in kpis} == {(1.1, 0.8)}


def test_self_referring_alias_is_refused() -> None:
    message = refused(HEAD + "    target: &t {by: *t}\n")
    assert "an alias refers to the list or mapping it is in" in message


def test_saved_files_hold_no_aliases_and_read_back() -> None:
    """One date object shared by two categories' targets used to be written as &id/*id."""
    month = date(2024, 1, 1)
    kpi = KPI(
        "Sales",
        "sum(x)",
        time="Day",
        by="Region",
        target=Target(by_category_period={("East", month): 5.0, ("West", month): 7.0}),
    )
    text = kpis_to_yaml([kpi])
    assert "&" not in text
    assert "*" not in text.replace("sum(x)", "")
    assert kpis_from_yaml(text) == [kpi]


@pytest.mark.parametrize("style", ["flow", "block"])
def test_deep_nesting_is_refused_at_the_limit(style: str) -> None:
    """The file is level 1, each list one more: MAX_DEPTH - 1 lists are read, one more is
    refused; 5,000 levels (a RecursionError in PyYAML's composer) too."""

    def nested(levels: int) -> str:
        if style == "flow":
            return "x: " + "[" * levels + "]" * levels + "\n"
        dashes = "".join("  " * i + "-\n" for i in range(1, levels))
        return "x:\n" + dashes + "  " * levels + "[]\n"

    assert 'unknown key "x"' in refused("kpis: []\n" + nested(MAX_DEPTH - 1))
    for levels in (MAX_DEPTH, 5000) if style == "flow" else (MAX_DEPTH,):
        message = refused("kpis: []\n" + nested(levels))
        assert f"values nest more than {MAX_DEPTH} levels deep" in message
        assert "(line " in message


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("    target: " + "9" * 400, 'KPI "Sales": target (a 400-digit number) is too large'),
        (
            "    target: {by: {East: " + "1" * 400 + "}}",
            'KPI "Sales": target for "East" (a 400-digit number) is too large',
        ),
        ("    bands: {good: " + "2" * 309 + "}", 'KPI "Sales": bands good (a 309-digit number)'),
        ("    target: .inf", 'KPI "Sales": target "inf" is too large'),
        ("    target: -.inf", 'KPI "Sales": target "-inf" is too large'),
        ("    target: 1.0e+999", 'KPI "Sales": target "inf" is too large'),
        ("    target: .NaN", 'KPI "Sales": target "nan" is not a number'),
        ("    target: [1, 2]", 'KPI "Sales": target "[1, 2]" is not a number'),
        ("    target: {by: {East: {a: 1}}}", 'KPI "Sales": target for "East" "{\'a\': 1}" is not'),
        ("    due: 2024-02-30", 'KPI "Sales": due "2024-02-30" is not a date like 2017-12-31'),
        (
            "    target: {periods: {2023-02-29: 5}}",
            'KPI "Sales": target period "2023-02-29" is not a date',
        ),
        ("    owner: [a, b]", "KPI \"Sales\": owner must be text, not \"['a', 'b']\""),
        ("    grain: {month: 1}", 'KPI "Sales": grain must be text, not "{\'month\': 1}"'),
        ("    target: {by: [East]}", 'KPI "Sales": target by must be a mapping'),
        ("    target: {by: {yes: 5}}", 'KPI "Sales": target category True must be quoted'),
        ("    bands: {good: x}", 'KPI "Sales": bands good "x" is not a number'),
        ('    target: {by: {"a\\nb": -1}}', 'KPI "Sales": target for "a b" -1 is below zero'),
    ],
)
def test_malformed_values_get_one_line_naming_the_kpi_and_key(lines: str, message: str) -> None:
    assert message in refused(HEAD + lines + "\n")


def test_a_number_longer_than_the_limit_is_refused_with_its_line() -> None:
    text = HEAD + "    target: " + "9" * (MAX_NUMBER_CHARS + 1) + "\n"
    message = refused(text)
    assert message == (
        f"The KPI file is refused (line 6): a number is longer than {MAX_NUMBER_CHARS:,} "
        "characters."
    )
    assert "a 1000-digit number" in refused(HEAD + "    target: " + "9" * MAX_NUMBER_CHARS)


def test_names_that_are_not_text_and_long_names_in_messages() -> None:
    assert refused("kpis:\n  - {name: {a: 1}, measure: x}\n") == (
        "KPI number 1: name must be text, not \"{'a': 1}\"."
    )
    long_name = "N" * 5000
    message = refused(f"kpis:\n  - {{name: {long_name}, measure: x, target: -1}}\n")
    assert message == f'KPI "{"N" * 60}…": target -1 is below zero'


def test_size_cap() -> None:
    kpi = "kpis:\n  - {name: Sales, measure: sum(x)}\n"
    at_limit = kpi + "#" * (MAX_FILE_CHARS - len(kpi) - 1) + "\n"
    assert len(at_limit) == MAX_FILE_CHARS
    assert [k.name for k in kpis_from_yaml(at_limit)] == ["Sales"]
    assert refused(at_limit + "#") == (
        f"The KPI file is refused: it is longer than {MAX_FILE_CHARS:,} characters."
    )


# --- the command line -------------------------------------------------------------------


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr.strip()


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    """Rows whose category values and KPI name a spreadsheet would run as formulas, with
    negative amounts."""
    start = date(2024, 1, 1)
    rows = [
        ("@SUM(1)", start, -5.5),
        ("@SUM(1)", start + timedelta(days=3), -2.0),
        (" =1+1", start, 4.0),
        ("\t=2", start, 1.0),
        ("-7", start, 3.0),
        ("-2+3", start + timedelta(days=40), -1.25),
        ("West", start, 10.0),
    ]
    path = tmp_path / "data.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Region", "Day", "Amount"])
        writer.writerows([region, day.isoformat(), amount] for region, day, amount in rows)
    return path


NAME = '=HYPERLINK("http://example.com","open me")'


def test_cli_csv_neutralizes_formula_cells_and_keeps_numbers(
    data_file: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "kpis.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "kpis": [
                    {
                        "name": NAME,
                        "measure": 'sum("Amount")',
                        "time": "Day",
                        "by": "Region",
                    }
                ]
            }
        )
    )
    result = run("evaluate", data_file, "--kpis", spec)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    expected = {  # (category as written, period): sum of Amount, from the rows above
        ("'@SUM(1)", "2024-01-01"): -7.5,
        ("'=1+1", "2024-01-01"): 4.0,  # the loader trims the space (safe_cell's rule: below)
        ("'\t=2", "2024-01-01"): 1.0,
        ("-7", "2024-01-01"): 3.0,  # a negative number written as text is no formula
        ("'-2+3", "2024-02-01"): -1.25,
        ("West", "2024-01-01"): 10.0,
    }
    assert {(r["category"], r["period"]): float(r["actual"]) for r in rows} == expected
    assert {r["kpi"] for r in rows} == {"'" + NAME}


def test_cli_and_app_exports_share_one_rule() -> None:
    cases = {
        "=1": "'=1",
        "+1": "'+1",
        "-1+1": "'-1+1",
        "@A1": "'@A1",
        "\tx": "'\tx",
        "\rx": "'\rx",
        " =1": "' =1",
        "\n@A1": "'\n@A1",
        " \t -1": "' \t -1",
        "-12.5": "-12.5",
        "-3e5": "-3e5",
        "West": "West",
        "a=1": "a=1",
        "": "",
    }
    assert {c: export.safe_cell(c) for c in cases} == cases
    assert [export.safe_cell(v) for v in (-3.0, -4, None, date(2024, 1, 1))] == [
        -3.0,
        -4,
        None,
        date(2024, 1, 1),
    ]


def test_cli_refuses_an_alias_bomb_and_an_oversized_kpi_file(
    data_file: Path, tmp_path: Path
) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb().replace("by: Region", "by: Region\n    grain: month"))
    assert "aliases count as copies" in one_line_error(run("evaluate", data_file, "--kpis", bomb))
    big = tmp_path / "big.yaml"
    with big.open("w") as handle:  # 50 MB: read no further than the limit
        handle.write("kpis: []\n")
        for _ in range(50):
            handle.write("#" * (2**20 - 1) + "\n")
    message = one_line_error(run("evaluate", data_file, "--kpis", big))
    assert f"longer than {MAX_FILE_CHARS:,} characters" in message
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("kpis:\n  - {name: Umsatz \u00e4, measure: x}\n".encode("latin-1"))
    message = one_line_error(run("evaluate", data_file, "--kpis", latin))
    assert message == f"error: {latin}: the KPI file is not UTF-8 text."


# --- the app's import -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (alias_bomb(), "aliases count as copies"),
        ("kpis:\n  - {name: A, measure: x, target: " + "9" * 400 + "}\n", "400-digit number"),
        ("kpis: " + "[" * 5000 + "]" * 5000 + "\n", "levels deep"),
    ],
)
def test_app_import_refuses_and_keeps_the_cards(store_path: Path, text: str, message: str) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception
    cards = [m.label for m in at.metric]
    assert cards  # the bundled sample's KPIs
    at.session_state["open_kpi_file"] = True
    at.run()
    uploader = next(u for u in at.get("file_uploader") if u.key == "import_yaml")
    uploader.set_value(("hostile.yaml", text.encode(), "application/x-yaml"))
    at.run()
    at.button(key="do_import").click()
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    assert errors[0].startswith("Not imported, nothing was changed: ")
    assert message in errors[0]
    assert [m.label for m in at.metric] == cards
