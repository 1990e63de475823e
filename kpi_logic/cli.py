"""Command line: evaluate a KPI file on a data file, score it over a time window, or suggest
a starter KPI file.

    python -m kpi_logic evaluate DATA --kpis KPIS.yaml [--format csv|json] [--totals]
                                 [--sheet NAME] [--out FILE]
                                 [--memory-limit SIZE] [--temp-dir FOLDER]
    python -m kpi_logic evaluate URL --table NAME --kpis KPIS.yaml [--format ...] [--totals]
    python -m kpi_logic scorecard DATA|URL [--table NAME] --kpis KPIS.yaml [--as-of DATE]
                                 [--window period|mtd|qtd|ytd|last-12|all]
                                 [--from DATE --to DATE] [--fiscal-year-start MONTH]
                                 [--format csv|json] [--out FILE]
    python -m kpi_logic suggest DATA [--sheet NAME] [--out FILE]
    python -m kpi_logic store copy --from STORE.duckdb --to postgresql://...
    python -m kpi_logic explain DATA --kpis KPIS.yaml --kpi NAME [--as-of DATE]
                                [--against target|previous|last-year] [--format csv|json]
    python -m kpi_logic digest DATA --kpis KPIS.yaml [--as-of DATE] [--format md|html]
                               [--notes NOTES.csv] [--title TEXT] [--out FILE]

``evaluate URL --table NAME`` (and ``scorecard URL --table NAME``) computes the KPIs where a
live table is (only the aggregates come back): ``postgresql://USER:PASSWORD@HOST:PORT/DB``,
``spark://local`` (a Spark session in this process), ``spark://HOST:PORT`` (a Spark master) or
``sc://HOST:PORT`` (Spark Connect). ``NAME`` may name its schema (``sales.orders``, quoted
parts as the engine quotes them); with Spark, ``parquet.`/path/to/files``` reads Parquet files
where they are.

``--memory-limit`` (DuckDB's ``memory_limit``, e.g. ``2GB``) caps DuckDB's memory; what does
not fit spills to ``--temp-dir``, so files larger than memory can be evaluated.

``evaluate`` prints ``kpi, category, period, actual, target, attainment, status`` per KPI x
category x period (category empty for a KPI without ``by``); ``--totals`` adds the
all-categories rows of KPIs with ``by`` and a ``total`` column marking them.

``scorecard`` prints ``kpi, category, window_start, window_end, actual, target, attainment,
status, last_year, change_vs_last_year`` per KPI and category, plus each KPI's all-categories
row (category empty), over the window ending on ``--as-of`` (default: the last date in the
data); ``--from``/``--to`` give a date range instead (``--window range`` is implied).

``store copy`` copies a whole embedded store (datasets with every version and their rows,
KPI sets and history, saved views, notes; same ids, so old links keep working) into an empty
PostgreSQL team store.
``explain`` prints ``category, actual, target, gap, contribution`` (and ``rate, mix`` for a
ratio) for one KPI in the period holding ``--as-of`` (default: its latest period), largest
contribution first, with a line for the unallocated rest of a total target
(:mod:`kpi_logic.explain`); the contributions add up to the total's actual minus target.

``digest`` writes the review meeting's page (:mod:`kpi_logic.digest`): every KPI off target
or at risk with owner, gap, largest contributor, pace, chance of meeting the target and last
note (from ``--notes``, a CSV of ``kpi, date, author, text[, status]``), and a line per KPI on
target.

Any problem with the data, the KPI file or an expression prints one line on stderr and exits
1 (argparse usage errors exit 2); never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from kpi_logic.errors import DataReadError, KPIExplorerError
from kpi_logic.sql import sandboxed_connection
from kpi_logic.windows import WINDOWS

if TYPE_CHECKING:
    from kpi_logic.compute import Record
    from kpi_logic.model import KPI

# The engine's modules are imported by the commands themselves: ``evaluate`` starts the load
# on another thread first, and imports the rest while DuckDB connects and reads.

TABLE = "data"
OUTPUT_COLUMNS = ["kpi", "category", "period", "actual", "target", "attainment", "status"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        text = args.run(args)
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    except KPIExplorerError as err:
        return _fail(str(err))
    except OSError as err:
        return _fail(f"{err.filename or 'file'}: {err.strerror or err}")
    except Exception as err:  # one line, never a traceback
        return _fail(f"{type(err).__name__}: {_first_line(err)}")
    return 0


def _fail(message: str) -> int:
    print(f"error: {_first_line(message)}", file=sys.stderr)
    return 1


def _first_line(message: object) -> str:
    return (str(message).strip().splitlines() or ["unknown error"])[0]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kpi_logic", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    evaluate = commands.add_parser(
        "evaluate", help="actual, target, attainment and status per KPI x category x period"
    )
    evaluate.add_argument(
        "data", help="CSV, TSV, TXT, Parquet or Excel file, or a postgresql:// or Spark address"
    )
    evaluate.add_argument(
        "--table", help="with a database address: the table or view (NAME or SCHEMA.NAME)"
    )
    evaluate.add_argument("--kpis", required=True, help="KPI file (YAML)")
    evaluate.add_argument("--format", choices=("csv", "json"), default="csv")
    evaluate.add_argument(
        "--totals",
        action="store_true",
        help="also print the all-categories rows of KPIs with a category column "
        "(marked total=true, category empty)",
    )
    evaluate.set_defaults(run=_evaluate)
    card = commands.add_parser(
        "scorecard", help="each KPI over a time window against its target and last year"
    )
    card.add_argument(
        "data", help="CSV, TSV, TXT, Parquet or Excel file, or a postgresql:// or Spark address"
    )
    card.add_argument(
        "--table", help="with a database address: the table or view (NAME or SCHEMA.NAME)"
    )
    card.add_argument("--kpis", required=True, help="KPI file (YAML)")
    card.add_argument("--as-of", type=_day, help="last day of the window (default: last date)")
    card.add_argument("--window", choices=[w for w in WINDOWS if w != "range"], default="period")
    card.add_argument("--from", dest="start", type=_day, help="first day of a date range")
    card.add_argument("--to", dest="end", type=_day, help="last day of a date range")
    card.add_argument(
        "--fiscal-year-start",
        type=int,
        choices=range(1, 13),
        metavar="MONTH",
        help="month number the fiscal year starts in (default: the KPI file's, else 1)",
    )
    card.add_argument("--format", choices=("csv", "json"), default="csv")
    card.set_defaults(run=_scorecard)
    starter = commands.add_parser("suggest", help="print a starter KPI file for the data")
    starter.add_argument("data", help="CSV, TSV, TXT, Parquet or Excel file")
    starter.set_defaults(run=_suggest)
    store = commands.add_parser("store", help="manage the app's saved data")
    store_commands = store.add_subparsers(required=True, metavar="ACTION")
    copy = store_commands.add_parser(
        "copy", help="copy an embedded DuckDB store into an empty PostgreSQL team store"
    )
    copy.add_argument("--from", dest="source", required=True, metavar="PATH", help="store file")
    copy.add_argument("--to", dest="target", required=True, metavar="URL", help="postgresql://…")
    copy.set_defaults(run=_store_copy, out=None)
    explain = commands.add_parser(
        "explain", help="each category's contribution to a KPI's gap to target (or change)"
    )
    explain.add_argument("data", help="CSV, TSV, TXT, Parquet or Excel file")
    explain.add_argument("--kpis", required=True, help="KPI file (YAML)")
    explain.add_argument("--kpi", required=True, help="name of the KPI to explain")
    explain.add_argument("--as-of", type=_day, help="explain the period holding this date")
    explain.add_argument(
        "--against",
        choices=("target", "previous", "last-year"),
        default="target",
        help="the gap to target (default), or the change against the previous period or the "
        "same period last year",
    )
    explain.add_argument("--format", choices=("csv", "json"), default="csv")
    explain.set_defaults(run=_explain)
    review = commands.add_parser("digest", help="the review meeting's digest, Markdown or HTML")
    review.add_argument("data", help="CSV, TSV, TXT, Parquet or Excel file")
    review.add_argument("--kpis", required=True, help="KPI file (YAML)")
    review.add_argument("--as-of", type=_day, help="use the data up to this date")
    review.add_argument("--format", choices=("md", "html"), default="md")
    review.add_argument("--notes", help="check-in notes: CSV with kpi, date, author, text, status")
    review.add_argument("--title", default="KPI review", help="the page's title")
    review.set_defaults(run=_digest)
    for command in (evaluate, card, starter, explain, review):
        command.add_argument("--sheet", help="sheet of an Excel workbook (default: the first)")
        command.add_argument("--out", help="write to this file instead of standard output")
        command.add_argument(
            "--memory-limit",
            metavar="SIZE",
            help="most memory DuckDB may use, e.g. 2GB (default: 80%% of the machine's)",
        )
        command.add_argument(
            "--temp-dir",
            metavar="FOLDER",
            help="folder where DuckDB spills what does not fit in memory",
        )
    return parser


def _load(
    args: argparse.Namespace, *, materialize: bool = True
) -> tuple[duckdb.DuckDBPyConnection, list[str]]:
    """A sandboxed connection that can reach only the data file's folder (and the spill
    folder), with ``data``: the table ``ingest.load_file`` makes, or with ``materialize=False``
    its typed view over the file (read when queried: the folder stays allowed); and the
    load's warnings."""
    path = Path(args.data).resolve()
    if not path.is_file():
        raise KPIExplorerError(f"{args.data}: no such file.")
    try:
        con = sandboxed_connection(
            allowed_dirs=[path.parent], memory_limit=args.memory_limit, temp_dir=args.temp_dir
        )
    except duckdb.Error as err:
        raise KPIExplorerError(
            f"--memory-limit {args.memory_limit!r} / --temp-dir {args.temp_dir!r}: "
            f"{_first_line(err)}"
        ) from err
    from kpi_logic import ingest  # after connecting: DuckDB connects without the GIL

    loaded = ingest.load_file(con, path, TABLE, sheet=args.sheet, materialize=materialize)
    return con, loaded.warnings


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _evaluate(args: argparse.Namespace) -> str:
    if "://" in args.data:
        return _evaluate_live(args)
    if args.table:
        raise KPIExplorerError("--table goes with a database address, not a file")
    from kpi_logic import compute, expressions
    from kpi_logic.kpi_file import kpis_from_yaml

    # The file is opened (a view: the query reads it) while the KPI file is read and checked;
    # leaving the block waits for the load, also when the KPI file is refused.
    with ThreadPoolExecutor(max_workers=1) as pool:
        loading = pool.submit(_load, args, materialize=False)
        kpis = kpis_from_yaml(_read_kpi_file(args.kpis))
        con, warnings = loading.result()
    expressions.parse_with(con)  # no second connection just to parse the KPI file
    types = compute.table_columns(con, TABLE)
    for kpi in kpis:  # a bad KPI file fails here, before the file is scanned
        compute.compile_kpi(kpi, types)
    try:
        records = compute.aggregate_records(con, TABLE, kpis, totals=args.totals)
    except DataReadError:  # a row or cell the view's strict read refuses: a table skips it
        con.close()
        con, warnings = _load(args)  # and lists it (or the query fails again, with its message)
        records = compute.aggregate_records(con, TABLE, kpis, totals=args.totals)
    _warn(warnings)
    return _scored_output(records, kpis, args)


def _evaluate_live(args: argparse.Namespace) -> str:
    """``evaluate`` of a live table: the engine at the address computes the aggregates."""
    from kpi_logic import dialects, engines

    if not args.table:
        raise KPIExplorerError("--table NAME is needed with a database address")
    kpis = _load_kpis(args)
    with engines.connect(args.data) as engine:
        table = dialects.table_ref(args.table, engine.dialect)
        records = engines.aggregate_records(engine, table, kpis, totals=args.totals)
    return _scored_output(records, kpis, args)


def _scored_output(records: list[Record], kpis: Sequence[KPI], args: argparse.Namespace) -> str:
    """The records scored and written as ``--format`` says (``--totals`` keeps the
    all-categories rows)."""
    from kpi_logic import score

    scored = score.score_records(records, kpis)
    with_by = {k.name for k in kpis if k.by}
    rows = []
    for record in scored:
        total = record["category"] is None and record["kpi"] in with_by
        if args.totals or not total:
            row = [_plain(record[c]) for c in OUTPUT_COLUMNS]
            rows.append([*row, total] if args.totals else row)
    columns = [*OUTPUT_COLUMNS, "total"] if args.totals else OUTPUT_COLUMNS
    return _json(rows, columns) if args.format == "json" else _csv(rows, columns)


def _scorecard(args: argparse.Namespace) -> str:
    from kpi_logic import scorecard

    kpis = _load_kpis(args)
    ranged = args.start is not None or args.end is not None
    choice = scorecard.WindowChoice(
        kind="range" if ranged else args.window,
        as_of=args.as_of,
        start=args.start,
        end=args.end,
        fiscal_year_start=args.fiscal_year_start,
    )
    if "://" in args.data:  # a live table: the engine at the address computes the windows
        from kpi_logic import dialects, engines

        if not args.table:
            raise KPIExplorerError("--table NAME is needed with a database address")
        with engines.connect(args.data) as engine:
            live = dialects.table_ref(args.table, engine.dialect)
            rows = scorecard.scorecard(None, live, kpis, choice, engine=engine)
    else:
        if args.table:
            raise KPIExplorerError("--table goes with a database address, not a file")
        con, warnings = _load(args)
        _warn(warnings)
        rows = scorecard.scorecard(con, TABLE, kpis, choice)
    columns = scorecard.SCORECARD_COLUMNS
    table = [[_plain(row[c]) for c in columns] for row in rows]
    return _json(table, columns) if args.format == "json" else _csv(table, columns)


def _day(text: str) -> date:
    """An ISO date argument."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-06-30") from None


def _kpi_named(kpis: list[KPI], name: str) -> KPI:
    found = [k for k in kpis if k.name == name]
    if not found:
        names = ", ".join(f'"{k.name}"' for k in kpis)
        raise KPIExplorerError(f'No KPI named "{name}" in the KPI file (it has {names}).')
    return found[0]


def _explain(args: argparse.Namespace) -> str:
    from kpi_logic import explain

    kpis = _load_kpis(args)
    kpi = _kpi_named(kpis, args.kpi)
    con, warnings = _load(args)
    _warn(warnings)
    against = {"previous": explain.PREVIOUS, "last-year": explain.LAST_YEAR}.get(
        args.against, explain.TARGET
    )
    result = explain.explain(con, TABLE, kpi, as_of=args.as_of, against=against)
    columns = ["category", "actual", "target", "gap", "contribution"]
    columns += ["rate", "mix"] if result.ratio else []
    rows = [[_plain(getattr(line, c)) for c in columns] for line in result.lines]
    return _json(rows, columns) if args.format == "json" else _csv(rows, columns)


def _digest(args: argparse.Namespace) -> str:
    from kpi_logic import digest

    kpis = _load_kpis(args)
    notes = []
    if args.notes:
        try:
            notes = digest.notes_from_csv(Path(args.notes).read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError:
            raise KPIExplorerError(f"{args.notes}: the notes file is not UTF-8 text.") from None
    con, warnings = _load(args)
    _warn(warnings)
    page = digest.digest_for(con, TABLE, kpis, notes, title=args.title, as_of=args.as_of)
    return digest.to_html(page) if args.format == "html" else digest.to_markdown(page)


def _load_kpis(args: argparse.Namespace) -> list[KPI]:
    from kpi_logic.kpi_file import kpis_from_yaml

    return kpis_from_yaml(_read_kpi_file(args.kpis))


def _read_kpi_file(path: str) -> str:
    """The KPI file's text, read no further than one character past the model's size limit
    (``kpis_from_yaml`` refuses it then)."""
    from kpi_logic.kpi_file import MAX_FILE_CHARS

    try:
        with open(path, encoding="utf-8") as file:
            return file.read(MAX_FILE_CHARS + 1)
    except UnicodeDecodeError:
        raise KPIExplorerError(f"{path}: the KPI file is not UTF-8 text.") from None


def _suggest(args: argparse.Namespace) -> str:
    from kpi_logic import suggest
    from kpi_logic.kpi_file import kpis_to_yaml

    con, warnings = _load(args)
    _warn(warnings)
    return kpis_to_yaml(suggest.suggest_kpis(con, TABLE))


def _store_copy(args: argparse.Namespace) -> str:
    import tempfile

    from kpi_logic.store import Store, is_url, upload_dir_for
    from kpi_logic.store.copy import copy_store
    from kpi_logic.store.postgres import describe

    source_path = Path(args.source)
    if not source_path.is_file():
        raise KPIExplorerError(f"{source_path}: no store file there.")
    if not is_url(args.target):
        raise KPIExplorerError("--to takes a postgresql:// URL.")
    allowed = [upload_dir_for(source_path), source_path.parent / "exchange"]
    with (
        tempfile.TemporaryDirectory(prefix="kpi-copy-") as folder,
        Store(source_path, allowed_dirs=allowed) as source,
        Store(Path(folder) / "compute.duckdb", url=args.target, allowed_dirs=[]) as target,
    ):
        copied = copy_store(source, target)
    return copied.summary(describe(args.target)) + "\n"


def _plain(value: object) -> object:
    """A value as JSON has it: ISO dates, None for missing and non-finite numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value.isoformat() if isinstance(value, date) else value


def _json(rows: list[list[object]], columns: list[str]) -> str:
    return json.dumps([dict(zip(columns, row, strict=True)) for row in rows], indent=1) + "\n"


def _csv(rows: list[list[object]], columns: list[str]) -> str:
    """CSV; empty cells for missing values, true/false for flags (the last column), text a
    spreadsheet would run as a formula (a KPI or category named ``=HYPERLINK(...)``) quoted
    as the app's exports do (:func:`kpi_logic.export.safe_cell`)."""
    from kpi_logic.export import safe_cell

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    if columns[-1] == "total":
        rows = [[*row[:-1], "true" if row[-1] else "false"] for row in rows]
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return out.getvalue()
