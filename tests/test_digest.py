"""The digest on a known generated dataset: which KPIs need attention, their largest
contributor (worked out with pandas), escaping of user text, determinism, and the CLI."""

from __future__ import annotations

import html
import re
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from kpi_logic import digest, score
from kpi_logic.kpi_file import kpis_from_yaml
from kpi_logic.store import Note
from tests.test_cli import run

KPIS = """
kpis:
  - name: Sales <b>&</b>
    owner: "Ann *bold* $5"
    unit: currency
    measure: sum("Sales")
    time: Day
    by: Region
    target: {default: 3000, by: {West: 4000}, total: 12000}
  - name: Margin
    unit: percent
    measure: sum("Profit") / sum("Sales")
    time: Day
    by: Region
    target: {default: 0.3, total: 0.3}
    bands: {good: 1.0, warning: 0.5}
  - name: Orders
    measure: count("Sales")
    time: Day
    by: Region
    target: {default: 10, total: 40}
  - name: Returns
    measure: sum("Returns")
    time: Day
"""
REGIONS = ["East", "North", "South", "West"]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Two months of daily rows; in June West sells far below its target, South's margin
    is far below the others'."""
    rng = np.random.default_rng(5)
    days = pd.date_range("2024-05-01", "2024-06-30", freq="D")
    rows = []
    for day in days:
        for region in REGIONS:
            sales = rng.uniform(90, 110) * (0.5 if region == "West" and day.month == 6 else 1)
            margin = 0.1 if region == "South" else 0.32
            rows.append((day, region, round(sales, 2), round(sales * margin, 2), 1))
    return pd.DataFrame(rows, columns=["Day", "Region", "Sales", "Profit", "Returns"])


@pytest.fixture(scope="module")
def files(frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("digest")
    frame.to_csv(folder / "data.csv", index=False, date_format="%Y-%m-%d")
    (folder / "kpis.yaml").write_text(KPIS)
    (folder / "notes.csv").write_text(
        "kpi,date,author,text,status\n"
        "Margin,2024-06-20,bo,South discounts <script>alert(1)</script>,at risk\n"
        "Margin,2024-06-02,bo,older note,\n"
    )
    return {"csv": folder / "data.csv", "kpis": folder / "kpis.yaml", "notes": folder / "notes.csv"}


def build(
    frame: pd.DataFrame, notes: list[Note], kpi_file: str = KPIS, title: str = "Ops <review>"
) -> digest.Digest:
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute("CREATE TABLE t AS SELECT * FROM frame")
    return digest.digest_for(con, "t", kpis_from_yaml(kpi_file), notes, title=title)


NOTE = Note("1", "s", "Margin", "bo", "South [discounts](http://x) *now*", "at risk",
            datetime(2024, 6, 20, 9, 0))  # fmt: skip


def test_which_kpis_and_which_top_contributor(frame: pd.DataFrame) -> None:
    page = build(frame, [NOTE])
    june = frame[frame["Day"].dt.month == 6]
    sales = june["Sales"].sum()
    margin = june["Profit"].sum() / sales
    orders = len(june)
    expected_status = {
        "Sales <b>&</b>": "on target"
        if sales >= 12000
        else "at risk"
        if sales >= 0.9 * 12000
        else "off target",
        "Margin": "on target" if margin >= 0.3 else "at risk",
        "Orders": "on target" if orders >= 40 else "off target",
    }
    assert expected_status["Sales <b>&</b>"] == "off target"  # the data was made so
    assert expected_status["Margin"] == "at risk"
    got = {item.kpi.name: item for item in page.items}
    for name, status in expected_status.items():
        assert got[name].status == status
    attention = [i.kpi.name for i in page.section(digest.ATTENTION)]
    assert attention == ["Sales <b>&</b>", "Margin"]  # off target before at risk
    assert [i.kpi.name for i in page.section(digest.ON_TARGET)] == ["Orders"]
    assert [(i.kpi.name, i.status) for i in page.section(digest.NOT_JUDGED)] == [
        ("Returns", score.NO_TARGET)
    ]
    # the largest contributor in the gap's direction, by pandas
    targets = {"East": 3000, "North": 3000, "South": 3000, "West": 4000}
    gaps = june.groupby("Region")["Sales"].sum() - pd.Series(targets)
    assert got["Sales <b>&</b>"].top_category == gaps.idxmin() == "West"
    sums = june.groupby("Region")[["Profit", "Sales"]].sum()
    contribution = (sums["Profit"] - sums["Sales"] * 0.3) / sales
    assert got["Margin"].top_category == contribution.idxmin() == "South"
    assert got["Margin"].note == NOTE


def test_markdown_and_html_escape_user_text_and_are_deterministic(frame: pd.DataFrame) -> None:
    page = build(frame, [NOTE])
    markdown = digest.to_markdown(page)
    assert markdown == digest.to_markdown(build(frame, [NOTE]))  # same input, same bytes
    assert markdown.startswith("# Ops \\<review\\> as of 30 Jun 2024\n")
    assert "### ✖ Sales \\<b\\>\\&\\</b\\>: off target" in markdown
    assert "Owner: Ann \\*bold\\* \\$5" in markdown
    assert "\\[discounts\\](http:\u2060//x) \\*now\\*" in markdown
    assert "Largest contributor: West accounts for" in markdown
    assert "- ✔ Orders:" in markdown
    assert "Returns: no target" in markdown
    page_html = digest.to_html(page)
    assert "<b>&</b>" not in page_html
    assert html.escape("Sales <b>&</b>") in page_html
    assert "Ann *bold* $5" in page_html
    assert "<title>Ops &lt;review&gt; as of 30 Jun 2024</title>" in page_html


def test_every_amount_is_in_the_kpi_files_currency(frame: pd.DataFrame) -> None:
    """With ``currency: €`` in the KPI file, the digest's amounts are in euros: the actual,
    target and gap, the largest contributor's sentence and the on-target line. The only
    dollar sign left is the owner's own text."""
    page = build(frame, [], "currency: €\n" + KPIS, title="Ops")
    markdown = digest.to_markdown(page)
    assert "against a target of €" in markdown
    assert "a gap of -€" in markdown  # West sells far below its target: a negative gap
    assert re.search(r"Largest contributor: West accounts for -€[\d.,]+K? of the -€", markdown)
    with_dollars = [line for line in markdown.splitlines() if "$" in line]
    assert with_dollars == ["- Owner: Ann \\*bold\\* \\$5"], with_dollars
    assert "€" in digest.to_html(page)
    assert "$" not in digest.to_html(page).replace("Ann *bold* $5", "")


def test_cli_digest_markdown_html_and_notes(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "digest.html"
    args = ["digest", files["csv"], "--kpis", files["kpis"], "--notes", files["notes"]]
    result = run(*args, "--format", "html", "--out", out, "--as-of", "2024-06-30")
    assert result.returncode == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "South discounts &lt;script&gt;alert(1)&lt;/script&gt;" in page  # the newest note
    assert "older note" not in page
    assert page.index("Sales &lt;b&gt;") < page.index("Margin") < page.index("Orders")
    markdown = run(*args)
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith("# KPI review as of 30 Jun 2024")
    may = run(*args, "--as-of", "2024-05-31")
    assert may.returncode == 0, may.stderr
    assert "as of 31 May 2024" in may.stdout
    margin = may.stdout.split("### ▲ Margin: at risk", 1)[1].split("##", 1)[0]
    assert "Last note: none" in margin  # the June notes were not written by 31 May
    (tmp_path / "bad.csv").write_text("kpi,date,author,text\nMargin,someday,bo,hi\n")
    bad = run("digest", files["csv"], "--kpis", files["kpis"], "--notes", tmp_path / "bad.csv")
    assert bad.returncode == 1
    assert "notes line 2" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_notes_from_csv_newest_first() -> None:
    notes = digest.notes_from_csv(
        "kpi,date,author,text\nA,2024-01-02,x,second\nA,2024-03-01,y,third\nA,2023-12-01,z,first\n"
    )
    assert [n.text for n in notes] == ["third", "second", "first"]
    assert notes[0].created_at == datetime(2024, 3, 1)
    assert notes[0].author == "y"
