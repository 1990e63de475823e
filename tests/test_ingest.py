"""Ingestion on generated messy files, through a real sandboxed DuckDB connection."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from kpi_logic import ingest
from kpi_logic.errors import IngestError
from kpi_logic.ingest import (
    MAX_COLUMNS,
    SUPPORTED_EXTENSIONS,
    LoadResult,
    list_sheets,
    load_file,
    profile_table,
)
from kpi_logic.sql import quote_ident, sandboxed_connection
from tests import messy_files as mf

SQL_TYPES = {
    "number": "DOUBLE",
    "integer": "BIGINT",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "boolean": "BOOLEAN",
    "text": "VARCHAR",
}


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A sandboxed connection that may read only this test's folder, like the app's."""
    return sandboxed_connection(allowed_dirs=[tmp_path])


def column(con: duckdb.DuckDBPyConnection, table: str, name: str) -> list[object]:
    query = f"SELECT {quote_ident(name)} FROM {quote_ident(table)} ORDER BY rowid"
    return [row[0] for row in con.execute(query).fetchall()]


def table_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def check(con: duckdb.DuckDBPyConnection, result: LoadResult, messy: mf.Messy) -> None:
    """Names, logical and physical types, values and rejects are exactly as expected."""
    assert [c.name for c in result.columns] == list(messy.columns)
    rows = len(next(iter(messy.columns.values())))
    assert result.rows == rows
    assert con.execute(f"SELECT count(*) FROM {quote_ident(result.table)}").fetchone() == (rows,)
    physical = dict(
        (name, sql_type)
        for name, sql_type, *_ in con.execute(f"DESCRIBE {quote_ident(result.table)}").fetchall()
    )
    for info in result.columns:
        if info.name in messy.dtypes:
            assert info.dtype == messy.dtypes[info.name], info
        assert physical[info.name] == SQL_TYPES[info.dtype], info
        assert column(con, result.table, info.name) == messy.columns[info.name], info.name
    got = sorted(zip(result.rejects["row"], result.rejects["column"], strict=True), key=str)
    assert got == sorted(messy.rejects, key=str)


GOOD_FILES: list[Callable[[Path], mf.Messy]] = [
    mf.utf8_bom_csv,
    mf.utf16_unicode_text,
    mf.cp1252_csv,
    mf.semicolon_decimal_comma_csv,
    mf.tab_tsv,
    mf.quoted_newlines_csv,
    mf.ragged_csv,
    mf.money_csv,
    mf.dates_csv,
    mf.missing_tokens_csv,
    mf.headers_csv,
    mf.header_only_csv,
    mf.parquet_file,
    mf.excel_xlsx,
]


@pytest.mark.parametrize("make", GOOD_FILES, ids=lambda f: f.__name__)
def test_messy_file_loads_exactly(con, tmp_path, make):
    messy = make(tmp_path)
    result = load_file(con, messy.path, "data")
    assert result.table == "data"
    check(con, result, messy)


@pytest.mark.parametrize("make", GOOD_FILES, ids=lambda f: f.__name__)
def test_view_gives_the_rows_and_types_of_the_table(con, tmp_path, make):
    """``materialize=False``: a view with exactly the table's columns, types and rows."""
    messy = make(tmp_path)
    table = load_file(con, messy.path, "table")
    view = load_file(con, messy.path, "view", materialize=False)
    assert view.table == "view"
    assert view.columns == table.columns
    assert set(view.warnings) <= set(table.warnings)
    # read into memory / from a UTF-8 copy / rows that don't fit the columns: a table
    if make in (mf.excel_xlsx, mf.cp1252_csv, mf.ragged_csv):
        assert view.rows == table.rows
        assert "view" in table_names(con)
    else:
        assert view.rows is None
        assert view.reject_rows == []
        assert view.rejects.empty
        assert "view" not in table_names(con)
    assert con.execute('DESCRIBE "view"').fetchall() == con.execute('DESCRIBE "table"').fetchall()
    rows = [con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in ('"table"', "view")]
    assert rows[0] == rows[1]
    assert len(rows[1]) == len(next(iter(messy.columns.values())))


def test_view_and_table_replace_each_other(con, tmp_path):
    path = mf.money_csv(tmp_path).path
    load_file(con, path, "t", materialize=False)
    load_file(con, path, "t")
    assert "t" in table_names(con)
    load_file(con, path, "t", materialize=False)
    assert "t" not in table_names(con)
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] > 0


def test_view_of_a_large_file_types_it_from_the_sample(con, tmp_path, monkeypatch):
    """Past the sample a cell that doesn't convert is NULL in the view, as in the table."""
    monkeypatch.setattr(ingest.plan, "SAMPLE_ROWS", 20)
    lines = ["Id,Amount,Day"] + [f"{i},{i * 10},2024-01-{i % 28 + 1:02d}" for i in range(40)]
    lines[31] = "30,thirty,2024-02-30"
    path = tmp_path / "late.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = load_file(con, path, "v", materialize=False)
    assert [c.dtype for c in result.columns] == ["integer", "integer", "date"]
    assert con.execute("SELECT * FROM v WHERE Id = 30").fetchall() == [(30, None, None)]
    assert con.execute("SELECT count(*) FROM v").fetchone()[0] == 40


# Cells past the sample of a column typed from plain numbers or ISO dates; a view may read
# such a column natively, and must then give the table's value or refuse the cell.
TRICKY_CELLS = [
    "12", " 12 ", "  ", "+1", "-0", "007", "1.", ".5", "+.5", "1.5", "-2.5", "0.5", "1e3",
    "1E3", "1e-3", "1.5e0", "1e400", "1e-400", "4.9e-324", "1.8e308", "1_000", "1__0", "_1",
    "1,5", "1 000", "1'000", "0x10", "0b1", "1d", "1f", "e3", "+", "-", ".", "- 1", "--1",
    "nan", "NaN", "inf", "-inf", "Infinity", "infinity", "NA", "n/a", "null", "true", "t",
    "yes", "1", "0", "12345678901234567", "123456789012345678", "9223372036854775807",
    "9223372036854775808", "-9223372036854775808", "99999999999999999999",
    "9223372036854775807.5", "1.49999999999999999", "\u00a012", "１２", "١٢",
    "2024-01-05", "2024-1-5", "2024-01-05 00:00:00", " 2024-01-05", "2024-01-05T10:00",
    "2024-01-05Z", "2024-01-05 BC", "2024-01-05 (BC)", "2024/01/05", "20240105", "+2024-01-05",
    "-2024-01-05", "2024-02-30", "0001-01-01", "99999-01-01", "2024-01-05 24:00:00", "epoch",
    "today", "Jan 5 2024",
]  # fmt: skip
PLAIN = {"integer": "{}", "number": "{}.25", "date": "2024-01-{:02d}"}


@pytest.mark.parametrize("dtype", list(PLAIN))
def test_view_reads_a_typed_column_as_the_table_does(con, tmp_path, monkeypatch, dtype):
    """Whatever a cell past the sample holds, the view gives the table's value for it (the
    table casts text with TRY_CAST) or refuses to read the file: never another value."""
    monkeypatch.setattr(ingest.plan, "SAMPLE_ROWS", 20)
    monkeypatch.setattr(ingest.plan, "MIN_SAMPLE_ROWS", 20)
    plain = [PLAIN[dtype].format(i) for i in range(1, 21)]
    refused, wrong = [], []
    for n, cell in enumerate(TRICKY_CELLS):
        path = tmp_path / f"{dtype}_{n}.csv"
        quoted = '"' + cell.replace('"', '""') + '"'
        path.write_text("\n".join(["Id,X", *(f"{i},{v}" for i, v in enumerate(plain)),
                                   f"99,{quoted}"]) + "\n", encoding="utf-8")  # fmt: skip
        table = load_file(con, path, "t")
        view = load_file(con, path, "v", materialize=False)
        assert [c.dtype for c in table.columns] == ["integer", dtype]
        assert view.columns == table.columns
        assert view.rows is None
        # as text too: DuckDB may push a cast to text down into a typed CSV read, where it
        # gives the cell as written ("+1") instead of the value's text ("1")
        query = "SELECT X, CAST(X AS VARCHAR), coalesce(CAST(X AS VARCHAR), '?') FROM {}"
        expected = con.execute(query.format("t") + " WHERE Id = 99").fetchall()
        try:
            got = con.execute(query.format("v") + " WHERE Id = 99").fetchall()
        except duckdb.Error:
            refused.append(cell)
            continue
        if got != expected:
            wrong.append((cell, expected, got))
    assert wrong == []
    if dtype == "date":  # read as text and cast, as in the table: nothing refused
        assert refused == []
    else:  # read natively: a cell that is no number at all fails the read
        assert {"NA", "true", "2024-01-05"} <= set(refused)


def test_plain_columns_are_typed_as_by_the_general_checks():
    """The shortcut for plain decimals and ISO dates gives the general checks' type, for
    random columns of those shapes (and near misses: thousands-like decimals, a decimal-comma
    hint, long values, invalid or year-0 dates, a stray integer or text)."""
    import random

    from kpi_logic import ingest_types

    rng = random.Random(5)

    def decimal() -> str:
        whole = rng.choice(["0", "00", "7", "12", "123", "1234", "98765432101", "987654321012"])
        return rng.choice(["", "-"]) + whole + "." + rng.choice(["5", "25", "125", "000", "1234"])

    def day() -> str:
        year = rng.choice([0, 1999, 2024, 2024, 2024])
        return f"{year:04d}-{rng.randint(1, 13):02d}-{rng.randint(1, 31):02d}"

    shortcuts = 0
    for _ in range(3000):
        make = rng.choice([decimal, day])
        values = list(dict.fromkeys(make() for _ in range(rng.choice([1, 3, 40]))))
        if rng.random() < 0.1:
            values.insert(rng.randrange(len(values) + 1), rng.choice(["5", "x", "1,5"]))
        hint = rng.choice([".", ","])
        plain = ingest_types._plain_type(values, hint)
        if plain is not None:
            shortcuts += 1
            assert plain == ingest_types._general_type(values, hint), (values, hint)
    assert shortcuts > 1000  # the shortcut is taken, not only checked


@pytest.mark.parametrize(
    ("values", "dtype", "expected"),
    [
        (["1", "-2", " 3 ", "+4"], "integer", ("BIGINT", '"x"')),
        (["1.5", "-2", ".5", "3."], "number", ("DOUBLE", "NULLIF(\"x\", 'nan'::DOUBLE)")),
        (["1", "2", "NA"], "integer", None),  # a missing token the reader would refuse
        (["1", "2", "\u0661\u0662"], "integer", None),  # other digits than 0-9
        ([*map(str, range(50)), "1234567890123456789"], "integer", None),  # past 18 digits
        (["1,5", "2,25"], "number", None),  # decimal comma: replaced before the cast
        (["$1.50", "$2"], "number", None),  # symbols removed before the cast
        (["2024-01-05"], "date", None),  # the reader takes trailing text the cast refuses
    ],
)
def test_which_columns_a_view_reads_natively(values, dtype, expected):
    from kpi_logic.ingest_types import detect_type, native_read

    kind = detect_type(values)
    assert kind.dtype == dtype
    assert native_read('"x"', kind, values) == expected


def test_view_of_rows_of_another_width_past_the_first_lines(con, tmp_path, monkeypatch):
    """The first lines agree on their number of fields and a later row doesn't: in the sample
    it makes the load a table with the row listed, past it the view refuses to be read."""
    lines = ["Day,Team,Amount"] + [f"2024-01-{i % 28 + 1:02d},T{i % 3},{i}" for i in range(9000)]
    lines[70] += ",extra"
    path = tmp_path / "late_ragged.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = load_file(con, path, "t")
    view = load_file(con, path, "v", materialize=False)
    assert table.rows == view.rows == 8999
    assert view.reject_rows == table.reject_rows
    assert len(view.reject_rows) == 1
    assert con.execute("SELECT * FROM v EXCEPT SELECT * FROM t").fetchall() == []
    lines[70], lines[8000] = lines[8000], lines[70]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(ingest.plan, "SAMPLE_ROWS", 60)
    monkeypatch.setattr(ingest.plan, "MIN_SAMPLE_ROWS", 60)
    view = load_file(con, path, "v", materialize=False)
    assert view.rows is None
    assert [c.dtype for c in view.columns] == ["date", "text", "integer"]
    with pytest.raises(duckdb.Error):
        con.execute("SELECT count(*) FROM v").fetchall()


def test_sample_keeps_first_seen_order_and_limits(con, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest.plan, "SAMPLE_ROWS", 8)
    monkeypatch.setattr(ingest.plan, "SAMPLE_VALUES", 3)
    path = tmp_path / "order.csv"
    cells = ["b", "", "a", "b", "c", "a", "d", "e", "f"]  # "f" is past the sample
    path.write_text("X,Y\n" + "".join(f"{c},{i}\n" for i, c in enumerate(cells)), "utf-8")
    source = ingest.csv.csv_source(con, path, path, "csv", "utf-8")
    sample = ingest.plan.sample_text_columns(con, source, ["X", "Y"])
    assert sample.values == {"X": ["b", "a", "c"], "Y": ["0", "1", "2"]}
    assert sample.rows_fit
    cells[3] = "a\x00b"  # the character joining the sample's cells: read as rows instead
    path.write_text("X,Y\n" + "".join(f"{c},{i}\n" for i, c in enumerate(cells)), "utf-8")
    sample = ingest.plan.sample_text_columns(con, source, ["X"])
    assert sample.values == {"X": ["b", "a", "a\x00b"]}


def test_old_xls_workbook(con, tmp_path):
    pytest.importorskip("xlwt")
    messy = mf.excel_xls(tmp_path)
    assert list_sheets(messy.path) == ["Data", "Empty"]
    check(con, load_file(con, messy.path, "old"), messy)


def test_stray_delimiters(con, tmp_path):
    for messy in mf.stray_delimiter_csvs(tmp_path):
        check(con, load_file(con, messy.path, "teams"), messy)


def test_supported_extensions():
    assert set(SUPPORTED_EXTENSIONS) == {"csv", "tsv", "txt", "parquet", "xlsx", "xls"}


# --- what the details and warnings say ------------------------------------------------


def test_date_orders_are_decided_from_the_values(con, tmp_path):
    result = load_file(con, mf.dates_csv(tmp_path).path, "dates")
    detail = {c.name: c.detail for c in result.columns}
    assert detail["US"] == "dates M/D/Y"
    assert detail["Euro"] == "dates D/M/Y"
    assert detail["German"] == "dates D.M.Y"
    assert detail["Short"] == "dates M-D-Y"
    assert detail["ISO"] == "dates Y-M-D"
    assert detail["Mixed"] == "dates Y-M-D, M/D/Y"
    assert detail["Ambiguous"] == "ambiguous day/month order: assumed M/D/Y"
    assert any("Ambiguous" in w and "assumed M/D/Y" in w for w in result.warnings)
    assert not any("'US'" in w for w in result.warnings)


def test_number_formats_are_described_and_bad_cells_reported(con, tmp_path):
    messy = mf.money_csv(tmp_path)
    result = load_file(con, messy.path, "money")
    detail = {c.name: c.detail for c in result.columns}
    assert detail["Revenue"] == "currency $"
    assert detail["Pounds"] == "currency £"
    assert detail["Rate"] == "percent"
    assert "accounting negatives" in detail["Accounting"]
    reject = result.rejects.iloc[0]
    assert (reject["row"], reject["column"], reject["value"]) == (5, "Revenue", "call me")
    assert reject["reason"] == "not a valid number"
    assert any("1 value(s) in column 'Revenue'" in w for w in result.warnings)


def test_decimal_comma_detail(con, tmp_path):
    result = load_file(con, mf.semicolon_decimal_comma_csv(tmp_path).path, "eu")
    assert {c.name: c.detail for c in result.columns}["Betrag"] == "decimal comma"


def test_ragged_rows_are_reported_with_reason(con, tmp_path):
    result = load_file(con, mf.ragged_csv(tmp_path).path, "ragged")
    reasons = dict(zip(result.rejects["row"], result.rejects["reason"], strict=True))
    assert reasons[3].startswith("too few fields")
    assert reasons[5].startswith("too many fields")
    assert set(result.rejects["value"]) == {"2,Bob", "4,Dee,40,extra"}
    assert any("2 row(s) were skipped" in w for w in result.warnings)


def test_header_source_names_and_excel_details(con, tmp_path):
    result = load_file(con, mf.excel_xlsx(tmp_path).path, "orders")
    info = {c.name: c for c in result.columns}
    assert info["Region"].source_name == " Region "
    assert info["Order Date"].detail == "Excel serial dates"
    assert info["Amount"].detail == "currency $"
    assert info["column_6"].source_name == ""


def test_rejects_after_the_sample_count_skipped_rows(con, tmp_path, monkeypatch):
    """A bad cell beyond the typing sample is a reject; its row number counts the ragged
    row DuckDB skipped before it and the quoted newline."""
    monkeypatch.setattr(ingest.plan, "SAMPLE_ROWS", 20)
    lines = ["Id,Amount", '0,"1\n"']  # a quoted newline inside a number cell
    lines += [f"{i},{i * 10}" for i in range(1, 40)]
    lines[10] = "9,90,oops"  # row 11: too many fields
    lines[30] = "29,twenty-nine"  # row 31: not a number
    path = tmp_path / "late.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = load_file(con, path, "late")
    assert result.rows == 39
    rejects = result.rejects
    got = set(zip(rejects["row"], rejects["column"], rejects["value"], strict=True))
    assert got == {(11, None, "9,90,oops"), (31, "Amount", "twenty-nine")}


def test_non_utf8_bytes_after_the_sniffed_head(con, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest.csv, "HEAD_BYTES", 32)
    names = [f"plain {i}" for i in range(20)] + ["Crème brûlée €5"]
    text = "Name,N\n" + "".join(f"{n},{i}\n" for i, n in enumerate(names))
    path = tmp_path / "late_cp1252.csv"
    path.write_bytes(text.encode("cp1252"))
    load_file(con, path, "late")
    assert column(con, "late", "Name") == names
    assert list(tmp_path.iterdir()) == [path]  # the UTF-8 copy is gone


def test_utf16_big_endian(con, tmp_path):
    path = tmp_path / "be.txt"
    path.write_bytes("\ufeffCity\tN\nZürich\t1\nKöln\t2\n".encode("utf-16-be"))
    load_file(con, path, "be")
    assert column(con, "be", "City") == ["Zürich", "Köln"]
    assert column(con, "be", "N") == [1, 2]


# --- type overrides -------------------------------------------------------------------


def test_override_text_column_to_integer_rejects_words_but_not_na(con, tmp_path):
    messy = mf.missing_tokens_csv(tmp_path)
    result = load_file(con, messy.path, "m", type_overrides={"Status": "integer", "Amount": "text"})
    info = {c.name: c.dtype for c in result.columns}
    assert info["Status"] == "integer"
    assert info["Amount"] == "text"
    status = messy.columns["Status"]
    expected = {(i + 2, "Status") for i, s in enumerate(status) if s in ("open", "closed")}
    assert set(zip(result.rejects["row"], result.rejects["column"], strict=True)) == expected
    assert column(con, "m", "Status") == [None] * len(status)
    assert column(con, "m", "Amount")[:3] == [
        mf.MISSING_WORDS[i] if a is None else str(a)
        for i, a in enumerate(messy.columns["Amount"][:3])
    ]


def test_override_typed_parquet_columns(con, tmp_path):
    messy = mf.parquet_file(tmp_path)
    result = load_file(con, messy.path, "p", type_overrides={"Count": "number", "Code": "integer"})
    assert {c.name: c.dtype for c in result.columns}["Count"] == "number"
    assert column(con, "p", "Count") == [float(v) for v in messy.columns["Count"]]
    assert column(con, "p", "Code") == [int(v) for v in messy.columns["Code"]]


def test_override_errors(con, tmp_path):
    path = mf.tab_tsv(tmp_path).path
    with pytest.raises(IngestError, match="unknown column 'Nope'"):
        load_file(con, path, "t", type_overrides={"Nope": "text"})
    with pytest.raises(IngestError, match="Unknown type 'money'"):
        load_file(con, path, "t", type_overrides={"Qty": "money"})


# --- Excel sheets ---------------------------------------------------------------------


def test_sheets_listed_and_chosen(con, tmp_path):
    path = mf.excel_xlsx(tmp_path).path
    assert list_sheets(path) == ["Orders", "Notes"]
    assert list_sheets(mf.tab_tsv(tmp_path).path) == []
    load_file(con, path, "notes", sheet="Notes")
    assert column(con, "notes", "Note") == ["hello"]
    with pytest.raises(IngestError, match="no sheet 'Missing'"):
        load_file(con, path, "x", sheet="Missing")


# --- refused files --------------------------------------------------------------------

BAD_FILES = {
    "empty": (mf.empty_file, "is empty"),
    "png": (mf.png_named_csv, "not a text file: it looks like a PNG image"),
    "noise": (mf.random_bytes_csv, "not a text file"),
    "truncated": (mf.truncated_xlsx, "damaged or incomplete"),
    "encrypted": (mf.encrypted_xlsx, "password-protected"),
    "bomb": (mf.zip_bomb_xlsx, "refused as unsafe"),
    "wide": (mf.wide_csv, f"at most {MAX_COLUMNS:,} can be loaded"),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_file_is_refused_with_one_clear_line(con, tmp_path, name):
    make, message = BAD_FILES[name]
    path = make(tmp_path)
    with pytest.raises(IngestError, match=message) as caught:
        load_file(con, path, "bad")
    assert "\n" not in str(caught.value)
    assert path.name in str(caught.value)
    assert "bad" not in table_names(con)


def test_size_limit_is_checked_first(con, tmp_path):
    path = mf.money_csv(tmp_path).path
    with pytest.raises(IngestError, match="the limit is"):
        load_file(con, path, "t", max_bytes=100)


def test_unsupported_extension(con, tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.7")
    with pytest.raises(IngestError, match="can't be loaded"):
        load_file(con, path, "t")


def test_missing_file_and_outside_sandbox(con, tmp_path, tmp_path_factory):
    with pytest.raises(IngestError, match="File not found"):
        load_file(con, tmp_path / "nope.csv", "t")
    outside = mf.tab_tsv(tmp_path_factory.mktemp("elsewhere")).path
    with pytest.raises(IngestError):
        load_file(con, outside, "t")


# --- atomicity, progress, profile -----------------------------------------------------


def test_failure_keeps_old_table_and_leaves_nothing_behind(con, tmp_path):
    load_file(con, mf.tab_tsv(tmp_path).path, "t")
    con.execute("CREATE TABLE other AS SELECT 42 AS x")
    before = column(con, "t", "Label")
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1" + b"\x00" * 100)
    with pytest.raises(IngestError):
        load_file(con, bad, "t")
    with pytest.raises(IngestError):
        load_file(con, mf.wide_csv(tmp_path), "t")
    assert column(con, "t", "Label") == before
    assert table_names(con) == {"t", "other"}


def test_reload_replaces_table(con, tmp_path):
    load_file(con, mf.tab_tsv(tmp_path).path, "t")
    result = load_file(con, mf.utf8_bom_csv(tmp_path).path, "t")
    assert [c.name for c in result.columns] == ["Name", "Amount"]
    assert table_names(con) == {"t"}


def test_progress_is_reported_up_to_done(con, tmp_path):
    seen: list[tuple[float, str]] = []
    load_file(con, mf.money_csv(tmp_path).path, "t", progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert len(seen) >= 3


def test_profile_table(con, tmp_path):
    messy = mf.missing_tokens_csv(tmp_path)
    load_file(con, messy.path, "m")
    profile = profile_table(con, "m").set_index("column")
    assert list(profile.columns) == ["type", "nulls", "distinct", "min", "max", "examples"]
    amounts = [a for a in messy.columns["Amount"] if a is not None]
    row = profile.loc["Amount"]
    assert row["type"] == "integer"
    assert row["nulls"] == len(messy.columns["Amount"]) - len(amounts)
    assert (row["min"], row["max"]) == (str(min(amounts)), str(max(amounts)))
    assert abs(row["distinct"] - len(set(amounts))) <= max(2, len(set(amounts)) // 10)
    status = profile.loc["Status"]
    assert status["nulls"] == 1  # only the truly empty cell
    assert set(status["examples"]) <= {s for s in messy.columns["Status"] if s}
    assert len(status["examples"]) == 3


# --- type detection on its own --------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "hint", "dtype", "detail"),
    [
        (["007", "012", "100"], ".", "text", "leading zeros kept (codes, not numbers)"),
        (["1234567890123456789", "2"], ".", "text", ""),  # too long for a number: an id
        (["Yes", "no", "NA"], ".", "boolean", ""),
        (["1,234", "5,678"], ".", "integer", ""),  # thousands separators
        (["1,234", "5,678"], ",", "number", "decimal comma"),  # ;-delimited file: decimals
        (["1.234,5", "7"], ".", "number", "decimal comma"),  # the values settle it
        (["€ 1.234,50", "-€ 3,00"], ".", "number", "currency €, decimal comma"),
        (["12 %", "-3.5%"], ".", "number", "percent"),
        (["5-Jan-2024", "17-Mar-2023"], ".", "date", "dates month names"),
        (["2024-01-05T10:30:00", "2024-02-01T00:00:00"], ".", "datetime", "dates Y-M-D"),
        (["1/2/2024 3:04 PM", "1/3/2024 11:00 AM"], ".", "datetime", ""),
        (["North", "South", "1"], ".", "text", ""),
    ],
)
def test_detect_type(values, hint, dtype, detail):
    from kpi_logic.ingest_types import detect_type

    kind = detect_type(values, decimal_hint=hint)
    assert kind.dtype == dtype
    if detail:
        assert kind.detail == detail


def test_a_few_odd_cells_do_not_stop_detection():
    from kpi_logic.ingest_types import detect_type

    values = [str(i) for i in range(100)] + ["call me"]
    assert detect_type(values).dtype == "integer"
    assert detect_type([*values[:10], "call me"]).dtype == "text"  # 1 in 11 is too many


def test_booleans_and_padded_text(con, tmp_path):
    path = tmp_path / "flags.csv"
    path.write_text("Flag,Team\nyes, Red \nNo,Blue\n,Green\n,  \nTRUE,Red\n", encoding="utf-8")
    result = load_file(con, path, "f")
    assert [c.dtype for c in result.columns] == ["boolean", "text"]
    assert column(con, "f", "Flag") == [True, False, None, True]
    assert column(con, "f", "Team") == ["Red", "Blue", "Green", "Red"]  # blank row dropped


def test_web_page_saved_as_xls_and_csv_named_xlsx(con, tmp_path):
    page = tmp_path / "export.xls"
    page.write_text("<html><table><tr><td>1</td></tr></table></html>", encoding="utf-8")
    with pytest.raises(IngestError, match="looks like a web page"):
        load_file(con, page, "t")
    renamed = tmp_path / "data.xlsx"
    renamed.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(IngestError, match="not an Excel .xlsx workbook"):
        list_sheets(renamed)


def test_profile_of_missing_table(con):
    with pytest.raises(IngestError, match="no table named 'nope'"):
        profile_table(con, "nope")
