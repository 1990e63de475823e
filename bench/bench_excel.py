"""Benchmark: peak memory and time of Excel loads up to the sheet limits of ``kpi_logic.ingest``.

Generates .xlsx workbooks with XlsxWriter (constant memory mode) in a temporary folder: dense
sheets of numbers and of text up to ``MAX_SHEET_CELLS``, a sparse sheet whose cells reach a
grid of ``MAX_SHEET_SPAN``, both limits at once, one long string repeated up to
``MAX_SHEET_TEXT_BYTES``, long different texts up to that limit, and workbooks just over
the limits (the XFD1048576 bomb among them). Each
load runs ``load_file`` in a fresh child process that reports its own peak RSS (ru_maxrss),
its load time and the time of the size check alone (``_xlsx_sheet_size``).

    python bench/bench_excel.py            # every workbook (takes several minutes)
    python bench/bench_excel.py --quick    # the smaller ones only

Target (issue 16): the largest accepted workbook loads under ~1 GB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import xlsxwriter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kpi_logic.ingest import (  # noqa: E402
    MAX_SHEET_CELLS,
    MAX_SHEET_SPAN,
    MAX_SHEET_TEXT_BYTES,
)

CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
import duckdb
from pathlib import Path
from kpi_logic import ingest
from kpi_logic.errors import IngestError
path = Path(sys.argv[1])
started = time.perf_counter()
size = ingest.sheet_size.xlsx_sheet_size(path, "Data")
check = time.perf_counter() - started
started = time.perf_counter()
try:
    rows = ingest.load_file(duckdb.connect(), path, "t").rows
    outcome = f"loaded {rows:,} rows"
except IngestError as err:
    outcome = "refused: " + str(err)[:60] + "..."
print(json.dumps({
    "cells": size.cells, "span": size.span, "check": check,
    "load": time.perf_counter() - started, "outcome": outcome,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def dense(path: Path, rows: int, columns: int, text: bool) -> None:
    """A header row, then ``rows`` x ``columns`` numbers (or 12-character texts)."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("Data")
    sheet.write_row(0, 0, [f"column {j}" for j in range(columns)])
    for i in range(1, rows + 1):
        if text:
            sheet.write_row(i, 0, [f"item {(i * 31 + j) % 99_991:07d}" for j in range(columns)])
        else:
            sheet.write_row(i, 0, [i * 0.25 + j for j in range(columns)])
    book.close()


def sparse(path: Path, rows: int, columns: int, filled: int = 0, text: bool = False) -> None:
    """A header, ``filled`` full rows of numbers (or texts), one cell at (``rows``, ``columns``)."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("Data")
    sheet.write_row(0, 0, ["a", "b"])
    for i in range(1, filled + 1):
        if text:
            sheet.write_row(i, 0, [f"item {(i * 31 + j) % 99_991:07d}" for j in range(columns)])
        else:
            sheet.write_row(i, 0, [i * 0.5 + j for j in range(columns)])
    sheet.write(rows - 1, columns - 1, 1)
    book.close()


def repeated(path: Path, cells: int, length: int) -> None:
    """One shared string of ``length`` characters shown in ``cells`` cells of column A (not
    in constant memory mode, which writes every text in its cell)."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Data")
    sheet.write(0, 0, "Note")
    for i in range(1, cells + 1):
        sheet.write_string(i, 0, "x" * length)
    book.close()


def random_texts(path: Path, cells: int, length: int) -> None:
    """``cells`` different texts of ``length`` hex digits, each written in its cell."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("Data")
    sheet.write(0, 0, "Note")
    for i in range(1, cells + 1):
        sheet.write_string(i, 0, os.urandom(length // 2).hex())
    book.close()


def cases(quick: bool) -> list[tuple[str, Callable[[Path], None]]]:
    """(label, writer) of each workbook, smallest first."""
    found = [
        ("bomb: 2 cells, last one at XFD1048576", lambda p: sparse(p, 1_048_576, 16_384)),
        ("numbers, 1M cells (50,000 x 20)", lambda p: dense(p, 50_000, 20, False)),
        ("sparse, grid of 2.5M (2 cells)", lambda p: sparse(p, 50_000, 50)),
    ]
    if not quick:
        rows_at_limit = MAX_SHEET_CELLS // 20 - 1
        text_cells = MAX_SHEET_TEXT_BYTES // 32_100  # a string's XML: its text and 13 bytes
        inline_cells = MAX_SHEET_TEXT_BYTES // 32_000
        found += [
            ("numbers, 2M cells (100,000 x 20)", lambda p: dense(p, 100_000, 20, False)),
            (
                f"numbers at the cell limit ({MAX_SHEET_CELLS / 1e6:g}M)",
                lambda p: dense(p, rows_at_limit, 20, False),
            ),
            (
                f"text at the cell limit ({MAX_SHEET_CELLS / 1e6:g}M)",
                lambda p: dense(p, rows_at_limit, 20, True),
            ),
            (
                f"sparse at the grid limit ({MAX_SHEET_SPAN / 1e6:g}M, 2 cells)",
                lambda p: sparse(p, MAX_SHEET_SPAN // 100, 100),
            ),
            (
                f"both limits: {MAX_SHEET_CELLS / 1e6:g}M cells in a "
                f"{MAX_SHEET_SPAN / 1e6:g}M grid",
                lambda p: sparse(p, MAX_SHEET_SPAN // 40, 40, MAX_SHEET_CELLS // 40 - 1),
            ),
            (
                f"both limits, text: {MAX_SHEET_CELLS / 1e6:g}M texts in a "
                f"{MAX_SHEET_SPAN / 1e6:g}M grid",
                lambda p: sparse(p, MAX_SHEET_SPAN // 40, 40, MAX_SHEET_CELLS // 40 - 1, True),
            ),
            (
                f"a 32,000-character string in {text_cells:,} cells (the shared text limit)",
                lambda p: repeated(p, text_cells, 32_000),
            ),
            (
                f"random texts of 32,000 characters in {inline_cells:,} cells (the text limit)",
                lambda p: random_texts(p, inline_cells, 32_000),
            ),
            ("over the grid limit by one row", lambda p: sparse(p, MAX_SHEET_SPAN // 100 + 1, 100)),
            (
                "the same string in 30,000 cells (took 7 GB before the limit)",
                lambda p: repeated(p, 30_000, 32_000),
            ),
        ]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the small workbooks")
    args = parser.parse_args()
    print("| workbook | file | cells | grid | size check s | load s | peak RSS | outcome |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for k, (label, write) in enumerate(cases(args.quick)):
            path = Path(folder) / f"book{k}.xlsx"
            write(path)
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(path), str(ROOT)],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(done.stdout)
            print(
                f"| {label} | {path.stat().st_size / 1024**2:,.1f} MB | {r['cells']:,} | "
                f"{r['span']:,} | {r['check']:.2f} | {r['load']:.1f} | {r['peak_mb']:,.0f} MB | "
                f"{r['outcome']} |",
                flush=True,
            )
            path.unlink()


if __name__ == "__main__":
    main()
