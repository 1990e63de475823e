"""``python -m kpi_logic`` in a real subprocess: output values, exit codes, one-line errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kpi_logic import suggest
from kpi_logic.kpi_file import kpis_from_yaml
from kpi_logic.sql import sandboxed_connection

ROOT = Path(__file__).resolve().parent.parent

KPIS = """
kpis:
  - name: Revenue
    measure: sum("Revenue")
    time: Day
    by: Team
    target: {default: 20000, by: {Blue: 15000}}
  - name: Margin
    unit: percent
    measure: sum("Profit") / sum("Revenue")
    time: Day
    grain: quarter
    target: 0.25
  - name: Ticket time
    measure: avg("Resolution Hours")
    direction: lower
    target: 10
"""


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kpi_logic", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr.strip()


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    rows = 3000
    revenue = rng.gamma(2.0, 100.0, rows).round(2)
    return pd.DataFrame(
        {
            "Day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 240, rows), "D"),
            "Team": rng.choice(["Blue", "Green", "Red"], rows),
            "Revenue": revenue,
            "Profit": (revenue * rng.uniform(0.0, 0.5, rows)).round(2),
            "Cost": (revenue * 0.6).round(2),
            "Resolution Hours": rng.uniform(1, 20, rows).round(1),
        }
    )


@pytest.fixture(scope="module")
def files(frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli")
    frame.to_csv(folder / "data.csv", index=False, date_format="%Y-%m-%d")
    frame.to_parquet(folder / "data.parquet", index=False)
    (folder / "kpis.yaml").write_text(KPIS)
    return {
        "csv": folder / "data.csv",
        "parquet": folder / "data.parquet",
        "kpis": folder / "kpis.yaml",
    }


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_evaluate_csv_values(kind: str, files: dict[str, Path], frame: pd.DataFrame) -> None:
    result = run("evaluate", files[kind], "--kpis", files["kpis"])
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [
        "kpi",
        "category",
        "period",
        "actual",
        "target",
        "attainment",
        "status",
    ]
    revenue = {(r["category"], r["period"]): r for r in rows if r["kpi"] == "Revenue"}
    month = frame["Day"].dt.to_period("M").dt.start_time.dt.strftime("%Y-%m-%d")
    expected = frame.groupby(["Team", month])["Revenue"].sum()
    assert set(revenue) == set(expected.index)  # per-category rows only: no totals
    for (team, period), value in expected.items():
        row = revenue[team, period]
        target = 15000 if team == "Blue" else 20000
        assert float(row["actual"]) == pytest.approx(value)
        assert float(row["target"]) == target
        assert float(row["attainment"]) == pytest.approx(value / target)
        status = (
            "on target" if value >= target else "at risk" if value >= 0.9 * target else "off target"
        )
        assert row["status"] == status
    margin = [r for r in rows if r["kpi"] == "Margin"]
    quarter = frame["Day"].dt.to_period("Q").dt.start_time.dt.strftime("%Y-%m-%d")
    sums = frame.groupby(quarter)[["Profit", "Revenue"]].sum()
    assert [r["period"] for r in margin] == list(sums.index)
    assert [r["category"] for r in margin] == ["", "", ""]
    for row, (_, q) in zip(margin, sums.iterrows(), strict=True):
        assert float(row["actual"]) == pytest.approx(q["Profit"] / q["Revenue"])
    [ticket] = [r for r in rows if r["kpi"] == "Ticket time"]
    assert (ticket["category"], ticket["period"]) == ("", "")
    mean = frame["Resolution Hours"].mean()
    assert float(ticket["attainment"]) == pytest.approx(10 / mean)  # lower is better


def test_evaluate_json_with_totals_to_file(files: dict[str, Path], frame: pd.DataFrame) -> None:
    out = files["csv"].parent / "out.json"
    result = run("evaluate", files["csv"], "--kpis", files["kpis"], "--format", "json",
                 "--totals", "--out", out)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    rows = json.loads(out.read_text())
    totals = [r for r in rows if r["kpi"] == "Revenue" and r["total"]]
    month = frame["Day"].dt.to_period("M").dt.start_time.dt.strftime("%Y-%m-%d")
    expected = frame.groupby(month)["Revenue"].sum()
    assert [r["period"] for r in totals] == list(expected.index)
    assert [r["actual"] for r in totals] == pytest.approx(expected.tolist())
    assert {r["category"] for r in totals} == {None}
    # no total target: the total is judged on the teams' targets added up (Blue 15,000, others
    # 20,000 each), over the teams with rows that month
    teams = frame.groupby(month)["Team"].unique()
    targets = [sum(15000 if t == "Blue" else 20000 for t in teams[p]) for p in expected.index]
    assert [r["target"] for r in totals] == targets
    assert [r["attainment"] for r in totals] == pytest.approx(
        [a / t for a, t in zip(expected.tolist(), targets, strict=True)]
    )
    assert not any(r["total"] for r in rows if r["kpi"] != "Revenue")


def test_suggest_output_loads_and_evaluates(files: dict[str, Path]) -> None:
    result = run("suggest", files["csv"])
    assert result.returncode == 0, result.stderr
    kpis = {k.name: k for k in kpis_from_yaml(result.stdout)}
    assert kpis["Revenue"].measure == 'sum("Revenue")'
    assert kpis["Profit margin"].measure == 'sum("Profit") / sum("Revenue")'
    assert kpis["Resolution time"].direction == "lower"
    assert {k.time for k in kpis.values()} == {"Day"}
    assert {k.by for k in kpis.values()} == {"Team"}
    spec = files["csv"].parent / "suggested.yaml"
    spec.write_text(result.stdout)
    evaluated = run("evaluate", files["csv"], "--kpis", spec)
    assert evaluated.returncode == 0, evaluated.stderr
    assert {r["kpi"] for r in csv.DictReader(io.StringIO(evaluated.stdout))} == set(kpis)


def test_suggest_templates_by_column_names(tmp_path: Path) -> None:
    con = sandboxed_connection(allowed_dirs=[tmp_path])
    con.execute(
        "CREATE TABLE t AS SELECT DATE '2024-01-01' AS \"Week\", 'a' AS \"Store\", "
        '1.0 AS "Sales", 0.5 AS "COGS cost", 3 AS "Leads", 1 AS "Deals won", '
        '2.0 AS "Marketing spend", 1 AS "New customers", 1 AS "Leavers", 10 AS "Headcount", '
        '1 AS "Defects", 100 AS "Units produced", 9 AS "On time", 10 AS "Deliveries", '
        '4 AS "CSAT"'
    )
    con.execute("INSERT INTO t SELECT * REPLACE ('b' AS \"Store\") FROM t")
    got = {k.name: (k.measure, k.type) for k in suggest.suggest_kpis(con, "t")}
    headcount = '(sum("Headcount") / count_distinct("Week"))'  # a level, averaged over dates
    assert got == {
        "Revenue": ('sum("Sales")', "financial"),
        "Profit margin": ('(sum("Sales") - sum("COGS cost")) / sum("Sales")', "financial"),
        "Costs": ('sum("COGS cost")', "financial"),
        "New customers": ('sum("New customers")', "customer"),
        "Leads": ('sum("Leads")', "marketing"),
        "Conversion rate": ('sum("Deals won") / sum("Leads")', "sales"),
        "Cost per lead": ('sum("Marketing spend") / sum("Leads")', "marketing"),
        "Customer acquisition cost": ('sum("Marketing spend") / sum("New customers")', "marketing"),
        "Marketing spend": ('sum("Marketing spend")', "marketing"),
        "Satisfaction": ('avg("CSAT")', "customer"),
        "Headcount": (headcount, "employee"),
        "Staff turnover": (f'sum("Leavers") / {headcount}', "employee"),
        "Defect rate": ('sum("Defects") / sum("Units produced")', "quality & compliance"),
        "On-time rate": ('sum("On time") / sum("Deliveries")', "operational"),
    }
    assert {k.by for k in suggest.suggest_kpis(con, "t")} == {"Store"}


def test_bad_data_files(tmp_path: Path, files: dict[str, Path]) -> None:
    assert "no such file" in one_line_error(run("evaluate", tmp_path / "nope.csv", "--kpis",
                                                files["kpis"]))  # fmt: skip
    fake = tmp_path / "report.xlsx"
    fake.write_text("<html>not a workbook</html>")
    one_line_error(run("evaluate", fake, "--kpis", files["kpis"]))
    odd = tmp_path / "data.exe"
    odd.write_bytes(b"MZ\x00\x01")
    assert "can't be loaded" in one_line_error(run("suggest", odd))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("kpis:\n  - name: [oops\n", "not valid YAML"),
        ("kpis:\n  - name: A\n    measure: sum(x)\n    grain: monthly\n", 'grain "monthly"'),
        ('kpis:\n  - name: A\n    measure: sum("Nope")\n', 'KPI "A"'),
        ('kpis:\n  - name: A\n    measure: sum("Revenue")\n    by: Region\n', 'KPI "A"'),
        (
            "kpis:\n  - name: A\n    measure: \"read_csv('/etc/passwd')\"\n",
            'KPI "A"',
        ),
        (
            'kpis:\n  - name: A\n    measure: sum("Revenue")\n    filter: "1=1; DROP TABLE data"\n',
            'KPI "A"',
        ),
    ],
)
def test_bad_specs(spec: str, message: str, tmp_path: Path, files: dict[str, Path]) -> None:
    path = tmp_path / "kpis.yaml"
    path.write_text(spec)
    assert message in one_line_error(run("evaluate", files["csv"], "--kpis", path))


def test_missing_kpi_file_and_usage_errors(tmp_path: Path, files: dict[str, Path]) -> None:
    assert "nope.yaml" in one_line_error(run("evaluate", files["csv"], "--kpis",
                                             tmp_path / "nope.yaml"))  # fmt: skip
    assert run("evaluate", files["csv"]).returncode == 2  # --kpis is required
    assert run("evaluate", files["csv"], "--kpis", files["kpis"], "--format", "xml").returncode == 2
    assert run().returncode == 2


def test_parquet_that_needs_cleaning_goes_through_ingest(tmp_path: Path) -> None:
    frame = pd.DataFrame({" Day ": pd.to_datetime(["2024-01-02", "2024-02-03"]), "N": [1, 2]})
    frame["N"] = frame["N"].astype("int32")  # INTEGER: load_file makes it BIGINT
    frame.to_parquet(tmp_path / "messy.parquet", index=False)
    spec = tmp_path / "kpis.yaml"
    spec.write_text('kpis:\n  - {name: N, measure: sum("N"), time: Day, target: 2}\n')
    result = run("evaluate", tmp_path / "messy.parquet", "--kpis", spec)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "N,,2024-01-01,1.0,2.0,0.5,off target",
        "N,,2024-02-01,2.0,2.0,1.0,on target",
    ]


def test_memory_limit_and_temp_dir(tmp_path: Path, files: dict[str, Path]) -> None:
    from kpi_logic import cli

    spill = tmp_path / "spill"
    args = cli._parser().parse_args(
        ["evaluate", str(files["csv"]), "--kpis", str(files["kpis"]),
         "--memory-limit", "300MB", "--temp-dir", str(spill)]
    )  # fmt: skip
    con, _ = cli._load(args)
    limit, folder = con.execute(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchone()
    assert limit == "286.1 MiB", limit  # 300 MB in DuckDB's binary units
    assert Path(folder) == spill
    assert spill.is_dir()
    assert con.execute("SELECT count(*) FROM data").fetchone()[0] == 3000

    plain = run("evaluate", files["csv"], "--kpis", files["kpis"])
    limited = run("evaluate", files["csv"], "--kpis", files["kpis"],
                  "--memory-limit", "300MB", "--temp-dir", spill)  # fmt: skip
    assert limited.returncode == 0, limited.stderr
    assert limited.stdout == plain.stdout
    assert "--memory-limit" in one_line_error(
        run("evaluate", files["csv"], "--kpis", files["kpis"], "--memory-limit", "lots")
    )


def test_a_cell_the_view_refuses_makes_evaluate_read_a_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Past the sample, a number column holds text: the view (which parses plain numbers
    natively) refuses it, so evaluate loads a table, which leaves the cell empty and says so."""
    from kpi_logic import cli, ingest

    monkeypatch.setattr(ingest.plan, "SAMPLE_ROWS", 100)
    monkeypatch.setattr(ingest.plan, "MIN_SAMPLE_ROWS", 100)
    amounts = [str(i % 7 + 1) for i in range(5000)]
    amounts[4000] = "seven"
    data = tmp_path / "late.csv"
    lines = [f"Team {'AB'[i % 2]},{a}" for i, a in enumerate(amounts)]
    data.write_text("Team,Amount\n" + "\n".join(lines) + "\n")
    spec = tmp_path / "k.yaml"
    spec.write_text('kpis:\n  - {name: Amt, measure: sum("Amount"), by: Team}\n')
    assert cli.main(["evaluate", str(data), "--kpis", str(spec)]) == 0
    out, err = capsys.readouterr()
    expected = {
        team: sum(int(a) for i, a in enumerate(amounts) if a.isdigit() and "AB"[i % 2] == team[-1])
        for team in ("Team A", "Team B")
    }
    got = {row["category"]: float(row["actual"]) for row in csv.DictReader(io.StringIO(out))}
    assert got == expected
    warning = "1 value(s) in column 'Amount' could not be read as integer and were left empty."
    assert err == f"warning: {warning}\n"


def test_the_connection_reads_only_the_data_folder(tmp_path: Path) -> None:
    """The sandbox: the data file's folder and the spill folder (quotes in names and all) are
    readable, nothing else is, and no setting can be changed nor extension installed."""
    import duckdb

    from kpi_logic import cli

    data = tmp_path / "it's data" / "d.csv"
    other = tmp_path / "other.csv"
    for path in (data, other):
        path.parent.mkdir(exist_ok=True)
        path.write_text("a,b\n1,2\n")
    spill = tmp_path / "o'spill"
    args = cli._parser().parse_args(
        ["evaluate", str(data), "--kpis", "k.yaml", "--memory-limit", "300MB",
         "--temp-dir", str(spill)]
    )  # fmt: skip
    con, _ = cli._load(args)
    assert con.execute("SELECT * FROM data").fetchall() == [(1, 2)]
    assert con.execute("SELECT * FROM read_csv(?)", [str(data)]).fetchall() == [(1, 2)]
    for query in (
        f"SELECT * FROM read_csv('{other}')",
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "SET memory_limit = '10GB'",
        "INSTALL httpfs",
    ):
        with pytest.raises(duckdb.Error):
            con.execute(query).fetchall()
    settings = con.execute(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory'),"
        " current_setting('enable_progress_bar')"
    ).fetchone()
    assert settings == ("286.1 MiB", str(spill), False)


LEAN = """
import sys
from kpi_logic.cli import main
code = main(sys.argv[1:])
loaded = sorted(name for name in ("pandas", "numpy", "pyarrow") if name in sys.modules)
print(" ".join(loaded), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.parametrize("kind", ["csv", "parquet", "messy parquet", "csv with rejects"])
def test_evaluate_does_not_import_pandas(
    kind: str, files: dict[str, Path], frame: pd.DataFrame, tmp_path: Path
) -> None:
    """pandas costs a third of a second to import, pyarrow a seventh: the evaluate path loads
    neither (nor numpy), whatever it reads and whether cells are rejected."""
    data = files[kind] if kind in files else tmp_path / "data.parquet"
    if kind == "messy parquet":  # names that need cleaning: goes through ingest.load_file
        frame.rename(columns={"Day": " Day "}).to_parquet(data, index=False)
    elif kind == "csv with rejects":
        data = tmp_path / "data.csv"
        bad = frame.astype({"Revenue": object})
        bad.loc[5, "Revenue"] = "twelve"
        bad.to_csv(data, index=False, date_format="%Y-%m-%d")
    args = ["evaluate", str(data), "--kpis", str(files["kpis"]), "--format", "json", "--totals"]
    result = subprocess.run(
        [sys.executable, "-c", LEAN, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    loaded = result.stderr.split()
    assert loaded == []  # neither pandas nor numpy nor pyarrow, for CSV as for Parquet
    expected = json.loads(run(*args).stdout)  # the same, but for DuckDB's parallel float sums
    assert json.loads(result.stdout) == [pytest.approx(row) for row in expected]
    assert len(expected) > 20


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_evaluate_view_and_table_print_the_same(
    fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """evaluate reads through a view (``materialize=False``); a materialized table gives the
    same output (numbers approximately: DuckDB's parallel float sums vary in the last bits)."""
    from kpi_logic import cli, ingest

    args = ["evaluate", "data/sample_sales.csv", "--kpis", "data/sample_kpis.yaml", "--totals",
            "--format", fmt]  # fmt: skip
    seen: list[bool] = []
    forced: list[bool] = []  # empty: as asked; [True]: a materialized table whatever is asked
    load_file = ingest.load_file

    def spy(*a: object, materialize: bool = True, **k: object) -> ingest.LoadResult:
        seen.append(materialize)
        return load_file(*a, materialize=forced[0] if forced else materialize, **k)

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(ingest, "load_file", spy)
    outputs = []
    for force in (False, True):
        if force:
            forced.append(True)
        assert cli.main(args) == 0
        outputs.append(capsys.readouterr().out)
    assert seen == [False, False]  # evaluate asks for a view; the second run forced a table
    if fmt == "json":
        view, table = (json.loads(o) for o in outputs)
    else:
        view, table = (list(csv.DictReader(io.StringIO(o))) for o in outputs)
        view, table = (
            [{k: _number(v) for k, v in r.items()} for r in rows] for rows in (view, table)
        )
    assert len(view) > 20
    assert view == [pytest.approx(row) for row in table]


def _number(text: str) -> object:
    try:
        return float(text)
    except ValueError:
        return text


def test_evaluate_reports_rows_that_do_not_fit(tmp_path: Path) -> None:
    """A ragged CSV is never evaluated silently short of a row: the row is skipped and said."""
    data = tmp_path / "ragged.csv"
    data.write_text("Day,Team,Amount\n2024-01-01,A,5\n2024-01-02,B,7,extra\n2024-01-03,A,9\n")
    spec = tmp_path / "k.yaml"
    spec.write_text('kpis:\n  - {name: Amt, measure: sum("Amount"), by: Team}\n')
    result = subprocess.run(
        [sys.executable, "-m", "kpi_logic", "evaluate", str(data), "--kpis", str(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == ["Amt,A,,14.0,,,no target"]
    assert result.stderr.startswith("warning: 1 row(s) were skipped")
