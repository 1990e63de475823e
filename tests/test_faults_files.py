"""The fault suite for files (issue 16): files that crashed or exhausted the loader, generated
here, each ending in a correct load or one clear IngestError that leaves loaded tables as
they were. Expected rows come from an independent parse (Python's csv module, plain loops)."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import duckdb
import pytest

from kpi_logic import ingest, workspace
from kpi_logic.errors import IngestError
from kpi_logic.ingest import MAX_LINE_BYTES, MAX_SHEET_SPAN, list_sheets, load_file
from kpi_logic.sql import quote_ident, sandboxed_connection
from kpi_logic.store import Store
from tests.conftest import running_app

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_MS = 120_000  # a cold server on a busy 2-core machine
SAMPLE_SHOWN = re.compile(r"rows from\s+sample_sales\.csv")  # the Data page on the sample


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


# --- Excel: sheets too large for the reader, refused before it sees them ----------------

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


def raw_xlsx(path: Path, sheets: dict[str, str], shared: list[str] | None = None) -> Path:
    """A minimal .xlsx written by hand: ``sheets`` maps each name to the XML inside its
    ``<worksheet>`` element (so dimension and cell references are exactly as given)."""
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxml'
            'formats-package.relationships+xml"/><Default Extension="xml" ContentType='
            '"application/xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<?xml version="1.0"?><Relationships xmlns="{PKG_NS}"><Relationship Id="rId1" '
            f'Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0"?><workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets>'
            + "".join(
                f'<sheet name="{name}" sheetId="{k}" r:id="rId{k}"/>'
                for k, name in enumerate(sheets, 1)
            )
            + "</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0"?><Relationships xmlns="{PKG_NS}">'
            + "".join(
                f'<Relationship Id="rId{k}" Type="{REL_NS}/worksheet" '
                f'Target="worksheets/sheet{k}.xml"/>'
                for k in range(1, len(sheets) + 1)
            )
            + (
                f'<Relationship Id="rIdS" Type="{REL_NS}/sharedStrings" '
                'Target="sharedStrings.xml"/>'
                if shared is not None
                else ""
            )
            + "</Relationships>"
        ),
    }
    for k, body in enumerate(sheets.values(), 1):
        parts[f"xl/worksheets/sheet{k}.xml"] = (
            f'<?xml version="1.0"?><worksheet xmlns="{MAIN_NS}">{body}</worksheet>'
        )
    if shared is not None:
        items = "".join(f"<si><t>{text}</t></si>" for text in shared)
        parts["xl/sharedStrings.xml"] = f'<?xml version="1.0"?><sst xmlns="{MAIN_NS}">{items}</sst>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
    return path


def cells(*refs: tuple[str, int, object]) -> str:
    """``<sheetData>`` with one row per (reference, row, value); text values are inline."""
    rows = []
    for ref, row, value in refs:
        if isinstance(value, str):
            cell = f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'
        else:
            cell = f'<c r="{ref}"><v>{value}</v></c>'
        rows.append(f'<row r="{row}">{cell}</row>')
    return f"<sheetData>{''.join(rows)}</sheetData>"


def bomb_xlsx(folder: Path, name: str = "bomb.xlsx") -> Path:
    """The 1.5 KB workbook of issue 16: a header in A1, one number in XFD1048576, and a
    dimension that claims A1 only."""
    body = '<dimension ref="A1"/>' + cells(("A1", 1, "Amount"), ("XFD1048576", 1_048_576, 5))
    return raw_xlsx(folder / name, {"Data": body})


def one_line_refusal(err: pytest.ExceptionInfo[IngestError], *parts: str) -> None:
    message = str(err.value)
    assert "\n" not in message
    for part in parts:
        assert part in message, message


def test_the_xfd1048576_bomb_is_refused_before_the_reader_sees_it(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = bomb_xlsx(tmp_path)
    assert path.stat().st_size < 2_000
    keep_a_table(con, tmp_path)
    assert list_sheets(path) == ["Data"]  # naming the sheets opens no grid
    with pytest.raises(IngestError) as err:
        load_file(con, path, "t")
    one_line_refusal(err, "'Data'", "1,048,576", "16,384", f"{1_048_576 * 16_384:,}")
    assert con.execute("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (2,)]


@pytest.mark.parametrize(
    "body",
    [
        cells(("A1", 1, "Amount"), ("ZZ200000", 200_000, 5)),  # a MemoryError and a panic
        # the reference's quotes, spacing and case as XML allows them
        "<sheetData><row r='1'><c r='A1'><v>1</v></c><c r = 'zz200000'><v>2</v></c></row>"
        "</sheetData>",
        # elements with a namespace prefix
        f'<x:sheetData xmlns:x="{MAIN_NS}"><x:row r="9"><x:c r="A1"><x:v>1</x:v></x:c>'
        '<x:c r="XFD1048576"><x:v>2</x:v></x:c></x:row></x:sheetData>',
        # a reference with leading zeros and far too many digits
        cells(("A1", 1, "Amount"), ("B00000000099999999999", 3, 5)),
    ],
    ids=["zz200000", "quotes_and_case", "prefixed", "long_row_number"],
)
def test_far_cells_however_written_are_refused(
    body: str, con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = raw_xlsx(tmp_path / "far.xlsx", {"Data": body})
    with pytest.raises(IngestError) as err:
        load_file(con, path, "t")
    one_line_refusal(err, "'Data'", f"limit is {MAX_SHEET_SPAN:,}")


def test_cells_without_references_count_as_the_next_positions(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cells and rows may leave out ``r``: the reader puts them on the next column or row."""
    row = "<row>" + "<c><v>1</v></c>" * 40 + "</row>"
    body = f"<sheetData>{row * 30}</sheetData>"  # 30 rows x 40 columns, no reference at all
    path = raw_xlsx(tmp_path / "no refs.xlsx", {"Data": body})
    monkeypatch.setattr(ingest.sheet_size, "MAX_SHEET_SPAN", 30 * 40 - 1)
    with pytest.raises(IngestError) as err:
        load_file(con, path, "t")
    one_line_refusal(err, "'Data'")
    monkeypatch.setattr(
        ingest.sheet_size, "MAX_SHEET_SPAN", 30 * 40 * 40
    )  # a bound: 40 per cell at most
    assert load_file(con, path, "t").rows == 29  # the first row is the header


def test_a_lying_large_dimension_does_not_refuse_a_small_sheet(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    body = '<dimension ref="A1:XFD1048576"/>' + cells(("A1", 1, "Amount"), ("A2", 2, 7))
    path = raw_xlsx(tmp_path / "small.xlsx", {"Data": body})
    assert load_file(con, path, "t").rows == 1
    assert con.execute("SELECT Amount FROM t").fetchall() == [(7,)]


def test_the_span_and_cell_limits_are_exact(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Grid: rows x columns from A1 to the last cell; cells: every cell written."""
    rows = [("A1", 1, "Amount"), *((f"A{r}", r, r) for r in range(2, 11)), ("C10", 10, 1)]
    path = raw_xlsx(tmp_path / "grid.xlsx", {"Data": cells(*rows)})
    monkeypatch.setattr(ingest.sheet_size, "MAX_SHEET_SPAN", 30)  # 10 rows x 3 columns
    monkeypatch.setattr(ingest.sheet_size, "MAX_SHEET_CELLS", 11)
    assert load_file(con, path, "t").rows == 9
    monkeypatch.setattr(ingest.sheet_size, "MAX_SHEET_SPAN", 29)
    with pytest.raises(IngestError) as err:
        load_file(con, path, "t")
    one_line_refusal(err, "row 10 and column 3", "a grid of 30 cells", "limit is 29")
    monkeypatch.setattr(ingest.sheet_size, "MAX_SHEET_SPAN", 30)
    monkeypatch.setattr(ingest.sheet_size, "MAX_SHEET_CELLS", 10)
    with pytest.raises(IngestError) as err:
        load_file(con, path, "t")
    one_line_refusal(err, "11 cells", "limit is 10")


def test_only_the_sheet_loaded_is_checked(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    small = cells(("A1", 1, "Amount"), ("A2", 2, 3), ("A3", 3, 4))
    far = cells(("A1", 1, "Amount"), ("XFD1048576", 1_048_576, 5))
    path = raw_xlsx(tmp_path / "two.xlsx", {"Fine": small, "Huge": far})
    assert list_sheets(path) == ["Fine", "Huge"]
    assert load_file(con, path, "t", sheet="Fine").rows == 2
    with pytest.raises(IngestError) as err:
        load_file(con, path, "u", sheet="Huge")
    one_line_refusal(err, "'Huge'")


def test_large_shared_strings_are_refused_before_opening(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData>'
    path = raw_xlsx(tmp_path / "strings.xlsx", {"Data": body}, shared=["x" * 5_000])
    monkeypatch.setattr(ingest.checks, "MAX_XLSX_PART_BYTES", 4_000)
    with pytest.raises(IngestError) as err:
        list_sheets(path)
    one_line_refusal(err, "xl/sharedStrings.xml", "limit is")


def shared_cells(count: int, index: int = 0) -> str:
    """A header, then ``count`` rows whose one cell shows shared string ``index``."""
    rows = "".join(
        f'<row r="{r}"><c r="A{r}" t="s"><v>{index}</v></c></row>' for r in range(2, count + 2)
    )
    return f'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c></row>{rows}'


def test_one_shared_string_repeated_in_many_cells_is_refused(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """A 40,000-character string shown in 2,000 cells: a 0.1 MB file the reader copies into
    every cell (30,000 such cells took 7 GB)."""
    body = shared_cells(2_000) + "</sheetData>"
    path = raw_xlsx(tmp_path / "repeated.xlsx", {"Data": body}, shared=["x" * 40_000])
    assert path.stat().st_size < 200_000
    with pytest.raises(IngestError) as err:
        load_file(con, path, "t")
    one_line_refusal(err, "'Data'", "of text")


def test_long_texts_written_in_cells_count_toward_the_text_limit(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [os.urandom(5_000).hex() for _ in range(20)]  # 10,000 characters each
    rows = [("A1", 1, "Note"), *((f"A{r}", r, text) for r, text in enumerate(texts, 2))]
    path = raw_xlsx(tmp_path / "notes.xlsx", {"Data": cells(*rows)})
    monkeypatch.setattr(ingest.sheet_size, "MAX_SHEET_TEXT_BYTES", 199_999)
    with pytest.raises(IngestError) as err:
        load_file(con, path, "t")
    one_line_refusal(err, "'Data'", "of text")
    monkeypatch.setattr(ingest.sheet_size, "MAX_SHEET_TEXT_BYTES", 200_000)
    load_file(con, path, "t")
    assert [v for (v,) in con.execute("SELECT Note FROM t ORDER BY rowid").fetchall()] == texts


def test_shared_strings_under_the_limit_load(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    body = shared_cells(300, 1) + "</sheetData>"
    path = raw_xlsx(tmp_path / "names.xlsx", {"Data": body}, shared=["unused", "Ann"])
    assert load_file(con, path, "t").rows == 300
    assert con.execute("SELECT DISTINCT Name FROM t").fetchall() == [("Ann",)]


def xls(path: Path, written: list[tuple[int, int, object]]) -> Path:
    """An old .xls (BIFF8) with the cells ``(row, column, value)`` (0-based), via xlwt."""
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("Data")
    for row, col, value in written:
        sheet.write(row, col, value)
    book.save(str(path))
    return path


def test_xls_whose_cells_reach_the_last_row_and_column_is_refused_unopened(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """An .xls holds 65,536 x 256 cells at most, a grid the reader takes 1.5 GB for; the
    reader builds every sheet when it opens the file, so naming the sheets is refused too."""
    path = xls(tmp_path / "old.xls", [(0, 0, "Amount"), (65_535, 255, 5)])
    for call in (lambda: list_sheets(path), lambda: load_file(con, path, "t")):
        with pytest.raises(IngestError) as err:
            call()
        one_line_refusal(err, "'Data'", "row 65,536 and column 256")


def test_xls_cells_are_counted(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = [(0, 0, "Amount"), (0, 1, "Name")]
    written += [(r, 0, r * 1.5) for r in range(1, 60)] + [(r, 1, f"n{r}") for r in range(1, 60)]
    path = xls(tmp_path / "counted.xls", written)
    monkeypatch.setattr(ingest.sheet_size, "MAX_SHEET_CELLS", len(written))
    assert load_file(con, path, "t").rows == 59
    monkeypatch.setattr(ingest.sheet_size, "MAX_SHEET_CELLS", len(written) - 1)
    with pytest.raises(IngestError) as err:
        load_file(con, path, "t")
    one_line_refusal(err, f"{len(written):,} cells")


@pytest.mark.browser
def test_the_bomb_uploaded_in_the_app_leaves_the_server_and_the_sample(
    tmp_path: Path, browser, sample_store: Path
) -> None:
    """Through the Data page's uploader of a server of this test's own (over a copy of the
    sample store): a one-line message, the server still healthy, the bundled sample still
    there (also in the store file)."""
    path = bomb_xlsx(tmp_path, "far cell.xlsx")
    shutil.copytree(sample_store, tmp_path / "store")
    store = tmp_path / "store" / "kpi_store.duckdb"
    with running_app(store, tmp_path) as url:
        page = browser.new_page()
        page.goto(f"{url}/data")
        page.get_by_text(SAMPLE_SHOWN).first.wait_for(timeout=TIMEOUT_MS)
        uploader = page.locator('[data-testid="stFileUploader"] input[type="file"]')
        uploader.set_input_files(str(path))
        alert = page.get_by_text("far cell.xlsx was not loaded: Sheet 'Data' of far cell.xlsx")
        alert.wait_for(timeout=TIMEOUT_MS)
        assert "too large to load" in alert.inner_text()
        assert page.locator('[data-testid="stException"]').count() == 0
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as reply:
            assert reply.read() == b"ok"
        fresh = browser.new_page()
        fresh.goto(f"{url}/data")
        fresh.get_by_text(SAMPLE_SHOWN).first.wait_for(timeout=TIMEOUT_MS)
        page.close()
        fresh.close()
    with Store(store) as kept:
        assert [d.name for d in kept.list_datasets(kept.cursor())] == ["Sample sales (bundled)"]


def test_xls_shared_text_is_counted_per_cell(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """The reader copies a shared string into each cell showing it: a 30,000-character
    string (its characters spread over several BIFF records) in 1,000 cells is refused;
    short strings, one of them long, load as written."""
    long = "y" * 30_000
    path = xls(tmp_path / "repeated.xls", [(0, 0, "Note"), *((r, 0, long) for r in range(1, 1001))])
    with pytest.raises(IngestError) as err:
        list_sheets(path)
    one_line_refusal(err, "'Data'", "of text")
    texts = ["Note", long[:9_000], *(f"n{r % 50}" for r in range(1, 400))]
    path = xls(tmp_path / "names.xls", [(r, 0, text) for r, text in enumerate(texts)])
    load_file(con, path, "t")
    assert [v for (v,) in con.execute("SELECT Note FROM t ORDER BY rowid").fetchall()] == texts[1:]


def test_an_xls_whose_sheets_cant_be_read_is_refused_unchecked(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """An OLE2 file whose sectors lead nowhere: what can't be checked isn't opened."""
    path = tmp_path / "broken.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 40)
    for call in (lambda: list_sheets(path), lambda: load_file(con, path, "t")):
        with pytest.raises(IngestError) as err:
            call()
        one_line_refusal(err, "broken.xls is damaged")


def test_command_line_refuses_the_bomb_in_one_line(tmp_path: Path) -> None:
    path = bomb_xlsx(tmp_path)
    kpis = tmp_path / "kpis.yaml"
    kpis.write_text('kpis:\n  - name: Total\n    measure: sum("Amount")\n')
    done = subprocess.run(
        [sys.executable, "-m", "kpi_logic", "evaluate", str(path), "--kpis", str(kpis)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr[-2000:]
    assert "too large to load" in done.stderr
    assert "panicked" not in done.stderr
    assert "Traceback" not in done.stderr


# --- column names and file names ------------------------------------------------------


def test_a_parquet_column_name_with_a_nul_loads_renamed(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "nul.parquet"
    pq.write_table(pa.table({"Re\x00venue": [1.5, 2.5], "rowid": [7, 8]}), path)
    result = load_file(con, path, "t")
    assert [c.name for c in result.columns] == ["Re venue", "rowid_2"]
    assert con.execute('SELECT "Re venue", rowid_2 FROM t ORDER BY 2').fetchall() == [
        (1.5, 7),
        (2.5, 8),
    ]


@pytest.mark.parametrize("ids", ["numbers", "text"])
def test_a_rowid_column_loads_and_rejects_name_their_rows(
    ids: str, con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """DuckDB's ``rowid`` locates rejected cells: a column of that name is renamed (as a
    duplicate would be), so the row numbers reported are the file's."""
    rows = [["RowID", "Amount"]]
    rows += [[str(9_000 - k) if ids == "numbers" else f"r{k}", str(k)] for k in range(1, 41)]
    bad = {7: "seven", 23: "n/a?"}
    for k, value in bad.items():
        rows[k][1] = value
    path = tmp_path / "with rowid.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    result = load_file(con, path, "t")
    assert [c.name for c in result.columns] == ["RowID_2", "Amount"]
    expected = [(k + 1, value) for k, value in bad.items()]  # spreadsheet rows: header = 1
    assert [(r["row"], r["value"]) for r in result.reject_rows] == expected
    first = con.execute("SELECT RowID_2, Amount FROM t ORDER BY rowid LIMIT 1").fetchone()
    assert first == ((8_999 if ids == "numbers" else "r1"), 1)


@pytest.mark.parametrize("length", [151, 175, 200])
def test_long_file_names_keep_their_extension(
    length: int, con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    name = "q" * (length - len(".csv")) + ".csv"
    saved = workspace.save_upload(tmp_path, name, io.BytesIO(b"a,b\n1,2\n3,4\n"))
    assert saved.suffix == ".csv"
    assert len(saved.name) <= 150
    assert load_file(con, saved, "t").rows == 2
