"""The fault suite for files (issue 16): files that crashed or exhausted the loader, generated
here, each ending in a correct load or one clear IngestError that leaves loaded tables as
they were. Expected rows come from an independent parse (Python's csv module, plain loops)."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import duckdb
import pytest

from kpi_logic.errors import IngestError
from kpi_logic.ingest import MAX_LINE_BYTES, load_file
from kpi_logic.sql import quote_ident, sandboxed_connection


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A sandboxed connection that may read only this test's folder, like the app's."""
    return sandboxed_connection(allowed_dirs=[tmp_path])


def rows_of(con: duckdb.DuckDBPyConnection, table: str, order: str) -> list[tuple]:
    query = f"SELECT * FROM {quote_ident(table)} ORDER BY {quote_ident(order)}"
    return con.execute(query).fetchall()


def csv_rows(data: bytes, encoding: str = "utf-8") -> list[list[str]]:
    """The data rows of ``data`` as Python's csv module reads them (header dropped)."""
    text = data.decode(encoding).lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text, newline="")))[1:]


def typed(rows: list[list[str]]) -> list[tuple]:
    """Rows of (id, label, amount) text as the loader should type them."""
    return sorted((int(i), label, float(amount)) for i, label, amount in rows)


def keep_a_table(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """A table loaded before the bad file, which must survive its failure."""
    good = tmp_path / "good.csv"
    good.write_text("x\n1\n2\n")
    load_file(con, good, "t")


def lines(*rows: str, end: str = "\n") -> bytes:
    return (end.join(rows) + end).encode()


ROWS = [f'{i},"item {i}",{i * 1.25}' for i in range(1, 41)]
TEXT_FILES = {
    "cr_only": lines("id,label,amount", *ROWS, end="\r"),
    "mixed_ends": b"".join(
        (row + ("\r\n", "\n", "\r")[i % 3]).encode()
        for i, row in enumerate(["id,label,amount", *ROWS])
    ),
    "cr_in_quoted_cell_lf": lines("id,label,amount", '1,"two\rlines",1.5', *ROWS[1:]),
    "cr_in_quoted_cell_crlf": lines("id,label,amount", '1,"two\rlines",1.5', *ROWS[1:], end="\r\n"),
    "cr_in_quoted_cell_cr": lines("id,label,amount", '1,"two\rlines",1.5', *ROWS[1:], end="\r"),
    "lf_in_cells_of_crlf_file": lines(
        "id,label,amount", '1,"two\nlines",1.5', *ROWS[1:], end="\r\n"
    ),
    "long_line_in_first_50": lines(
        "id,label,amount", *ROWS[:5], f"99,{'x' * 200_000},9", *ROWS[5:]
    ),
    "long_quoted_cell_with_commas": lines(
        "id,label,amount", f'7,"{", ".join(["a b"] * 60_000)}",7', *ROWS[7:]
    ),
}


@pytest.mark.parametrize("materialize", [True, False], ids=["table", "view"])
@pytest.mark.parametrize("name", list(TEXT_FILES))
def test_text_files_as_they_come_load_as_csv_reads_them(
    name: str, materialize: bool, con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    data = TEXT_FILES[name]
    path = tmp_path / f"{name}.csv"
    path.write_bytes(data)
    started = time.monotonic()
    result = load_file(con, path, "t", materialize=materialize)
    assert time.monotonic() - started < 20  # a long cell once made type detection hang
    assert [c.name for c in result.columns] == ["id", "label", "amount"]
    assert rows_of(con, "t", "id") == typed(csv_rows(data))
    assert result.reject_rows == []
    assert list(tmp_path.glob(".*.utf8.csv")) == []  # a temporary copy is removed


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16"])
def test_cr_only_files_in_other_encodings(
    encoding: str, con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    text = "\r".join(["id,label,amount", *(f"{i},Café {i},{i}.5" for i in range(1, 30))]) + "\r"
    data = text.encode(encoding)
    path = tmp_path / "old mac.csv"
    path.write_bytes(data)
    load_file(con, path, "t")
    assert rows_of(con, "t", "id") == typed(csv_rows(data, encoding))


def test_line_ends_that_change_after_the_first_megabyte(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """The first megabyte is plain LF (so DuckDB reads the file itself until the style
    changes, then a table is loaded from a rewritten copy): a quoted CR across the first MB, a CR LF
    split across the second (where the rewrite's 1 MB chunks meet) and CR-only rows at the
    end all come out as the csv module reads them."""
    mb = 1024**2

    def row(i: int, label: str, end: str) -> bytes:
        return f'{i},"{label}",{i}{end}'.encode()

    data, i = b"id,label,amount\n", 1
    while len(data) < mb - 100:
        data, i = data + row(i, f"a{i}", "\n"), i + 1
    data, i = data + row(i, "c\r" + "c" * 200, "\n"), i + 1
    assert data.index(b'"c\r') < mb < len(data)
    while len(data) < 2 * mb - 100:
        data, i = data + row(i, f"b{i}", "\r\n"), i + 1
    pad = "p" * (2 * mb - 1 - len(data) - len(row(i, "", "")))
    data, i = data + row(i, pad, "\r\n"), i + 1
    assert data[2 * mb - 1 : 2 * mb + 1] == b"\r\n"
    data += b"".join(row(k, f"d{k}", "\r") for k in range(i, i + 5))
    path = tmp_path / "joined exports.csv"
    path.write_bytes(data)
    expected = typed(csv_rows(data))
    assert len(expected) == i + 4
    load_file(con, path, "t")
    assert rows_of(con, "t", "id") == expected
    load_file(con, path, "v", materialize=False)  # a view reads strictly: it fails, never
    with pytest.raises(duckdb.Error):  # gives other rows (the command line loads a table)
        rows_of(con, "v", "id")


def test_a_line_over_the_limit_among_the_first_is_refused_naming_it(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    keep_a_table(con, tmp_path)
    path = tmp_path / "blob.csv"
    path.write_bytes(lines("id,label,amount", *ROWS[:10], f"11,{'q' * MAX_LINE_BYTES},1"))
    with pytest.raises(IngestError) as err:
        load_file(con, path, "t")
    message = str(err.value)
    assert "\n" not in message
    assert "line 12 " in message
    assert f"{MAX_LINE_BYTES:,} bytes" in message
    assert con.execute("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (2,)]


def test_a_line_over_the_limit_further_on_is_a_rejected_row(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    first = [f"{i},a{i},{i}" for i in range(1, 30_001)]
    data = lines("id,label,amount", *first, f"0,{'q' * MAX_LINE_BYTES},0", "30001,z,1")
    path = tmp_path / "late blob.csv"
    path.write_bytes(data)
    result = load_file(con, path, "t")
    assert result.rows == 30_001
    assert [(r["row"], r["reason"].split(" (")[0]) for r in result.reject_rows] == [
        (30_002, f"line over {MAX_LINE_BYTES:,} bytes")
    ]
    assert any("line is longer than" in w for w in result.warnings)
