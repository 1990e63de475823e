"""Generators of messy spreadsheet exports, for tests of anything that reads user files.

Each function writes one file into ``folder`` and returns a :class:`Messy`: the path plus
the values a correct reader must produce, computed here by plain Python from the rows
written (never by the code under test). Randomness is seeded, so files are reproducible.
"""

from __future__ import annotations

import codecs
import csv
import io
import random
import struct
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path


@dataclass
class Messy:
    """A generated file and what loading it must give.

    ``columns``: clean column name -> expected Python values, in row order.
    ``dtypes``: clean column name -> logical type ("number", "integer", "date", ...).
    ``rejects``: expected rejected cells or rows as ``(spreadsheet row, column or None)``.
    """

    path: Path
    columns: dict[str, list[object]] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)
    rejects: list[tuple[int, str | None]] = field(default_factory=list)


def _csv_text(rows: list[list[object]], delimiter: str = ",") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def _people(n: int, seed: int) -> tuple[list[str], list[int]]:
    rnd = random.Random(seed)
    names = ["Café Olé", "Müller", "Søren", "Zoë", "José", "Łukasz", "Ann"]
    return [rnd.choice(names) for _ in range(n)], [rnd.randrange(-500, 5000) for _ in range(n)]


# --- encodings and delimiters ---------------------------------------------------------


def utf8_bom_csv(folder: Path, n: int = 50) -> Messy:
    """UTF-8 with a byte-order mark (Excel's "CSV UTF-8")."""
    names, amounts = _people(n, 1)
    text = _csv_text([["Name", "Amount"], *zip(names, amounts, strict=True)])
    path = folder / "utf8_bom.csv"
    path.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    return Messy(path, {"Name": names, "Amount": amounts}, {"Name": "text", "Amount": "integer"})


def utf16_unicode_text(folder: Path, n: int = 50) -> Messy:
    """Excel's "Unicode text": UTF-16LE with a byte-order mark, tab-delimited, .txt."""
    names, amounts = _people(n, 2)
    text = _csv_text([["Name", "Amount"], *zip(names, amounts, strict=True)], "\t")
    path = folder / "unicode_text.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    return Messy(path, {"Name": names, "Amount": amounts}, {"Name": "text", "Amount": "integer"})


def cp1252_csv(folder: Path, n: int = 50) -> Messy:
    """Windows-1252 (Excel's plain "CSV" on Western Windows), with € and accents."""
    rnd = random.Random(3)
    names = [rnd.choice(["Café", "Müller", "Größe", "Crème brûlée", "naïve"]) for _ in range(n)]
    notes = [rnd.choice(["price in €", "“quoted”", "50‰", "ok"]) for _ in range(n)]
    text = _csv_text([["Name", "Note"], *zip(names, notes, strict=True)])
    path = folder / "cp1252.csv"
    path.write_bytes(text.encode("cp1252"))
    return Messy(path, {"Name": names, "Note": notes}, {"Name": "text", "Note": "text"})


def semicolon_decimal_comma_csv(folder: Path, n: int = 60) -> Messy:
    """European export: ``;`` delimiter, ``1.234,50`` numbers, ``31.12.2024`` dates."""
    rnd = random.Random(4)
    cents = [rnd.randrange(-10_000_000, 10_000_000) for _ in range(n)]
    days = [date(2024, 1, 1) + timedelta(days=rnd.randrange(366)) for _ in range(n)]
    days[0] = date(2024, 12, 31)  # a day above 12 settles the order D.M.Y
    rows = [["Betrag", "Datum", "Stadt"]]
    for c, d in zip(cents, days, strict=True):
        sign, whole, frac = "-" if c < 0 else "", abs(c) // 100, abs(c) % 100
        rows.append(
            [f"{sign}{whole:,}".replace(",", ".") + f",{frac:02d}", d.strftime("%d.%m.%Y"), "Köln"]
        )
    path = folder / "semicolon.csv"
    path.write_text(_csv_text(rows, ";"), encoding="utf-8")
    return Messy(
        path,
        {"Betrag": [c / 100 for c in cents], "Datum": days, "Stadt": ["Köln"] * n},
        {"Betrag": "number", "Datum": "date", "Stadt": "text"},
    )


def tab_tsv(folder: Path, n: int = 40) -> Messy:
    """Tab-delimited .tsv whose text holds commas and semicolons."""
    rnd = random.Random(5)
    labels = [f"item {i}, size {rnd.randrange(9)}; ok" for i in range(n)]
    qty = [rnd.randrange(100) for _ in range(n)]
    path = folder / "tabs.tsv"
    path.write_text(_csv_text([["Label", "Qty"], *zip(labels, qty, strict=True)], "\t"), "utf-8")
    return Messy(path, {"Label": labels, "Qty": qty}, {"Label": "text", "Qty": "integer"})


def quoted_newlines_csv(folder: Path, n: int = 30) -> Messy:
    """Quoted fields with embedded newlines, commas and doubled quotes."""
    comments = [f'line one {i}\nline "two", with comma' for i in range(n)]
    ids = list(range(1, n + 1))
    path = folder / "newlines.csv"
    path.write_text(_csv_text([["Id", "Comment"], *zip(ids, comments, strict=True)]), "utf-8")
    return Messy(path, {"Id": ids, "Comment": comments}, {"Id": "integer", "Comment": "text"})


def ragged_csv(folder: Path) -> Messy:
    """Rows with too few and too many fields among good ones; one embedded newline before
    them, so row numbers must count records, not lines."""
    rows = [
        "Id,Name,Amount",
        '1,"multi\nline",10',
        "2,Bob",  # too few: row 3
        "3,Cy,30",
        "4,Dee,40,extra",  # too many: row 5
        "5,Eve,50",
    ]
    path = folder / "ragged.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return Messy(
        path,
        {"Id": [1, 3, 5], "Name": ["multi\nline", "Cy", "Eve"], "Amount": [10, 30, 50]},
        {"Id": "integer", "Name": "text", "Amount": "integer"},
        rejects=[(3, None), (5, None)],
    )


def stray_delimiter_csvs(folder: Path) -> list[Messy]:
    """Two exports with a stray delimiter: one ends every data line with it, the other
    only the header line. Both load as the two real columns."""
    expected = {"Team": ["Red", "Blue"], "Score": [7, 9]}
    dtypes = {"Team": "text", "Score": "integer"}
    made = []
    for name, text in (
        ("data_trailing.csv", "Team,Score\nRed,7,\nBlue,9,\n"),
        ("header_trailing.csv", "Team,Score,\nRed,7\nBlue,9\n"),
    ):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        made.append(Messy(path, dict(expected), dict(dtypes)))
    return made


# --- numbers, dates, missing values ---------------------------------------------------


def money_csv(folder: Path, n: int = 80) -> Messy:
    """Currency, accounting negatives, thousands separators, percentages, plain integers,
    and one bad cell (row 4 of Revenue) that must be reported as a reject."""
    rnd = random.Random(6)
    cents = [rnd.randrange(-500_000, 5_000_000) for _ in range(n)]
    pounds = [rnd.randrange(1, 100) for _ in range(n)]
    pct = [rnd.randrange(0, 100) for _ in range(n)]
    units = [rnd.randrange(0, 10**6) for _ in range(n)]
    rows = [["Revenue", "Accounting", "Pounds", "Rate", "Units", "Count"]]
    for i, (c, p, r, u) in enumerate(zip(cents, pounds, pct, units, strict=True)):
        money = f"${abs(c) / 100:,.2f}"
        rows.append(
            [
                ("-" + money) if c < 0 else money,
                f"({abs(c) // 100:,})" if c < 0 else f"{c // 100:,}",
                f"£{p}",
                f"{r}%",
                f"{u:,}",
                i,
            ]
        )
    rows[4][0] = "call me"  # spreadsheet row 5 (header is row 1)
    revenue: list[object] = [c / 100 if c >= 0 else -(abs(c) / 100) for c in cents]
    revenue[3] = None
    path = folder / "money.csv"
    path.write_text(_csv_text(rows), encoding="utf-8")
    return Messy(
        path,
        {
            "Revenue": revenue,
            "Accounting": [float(-(abs(c) // 100) if c < 0 else c // 100) for c in cents],
            "Pounds": [float(p) for p in pounds],
            "Rate": [r / 100 for r in pct],
            "Units": units,
            "Count": list(range(n)),
        },
        {
            "Revenue": "number",
            "Accounting": "number",
            "Pounds": "number",
            "Rate": "number",
            "Units": "integer",
            "Count": "integer",
        },
        rejects=[(5, "Revenue")],
    )


def dates_csv(folder: Path, n: int = 60) -> Messy:
    """ISO, M/D/YYYY, D.M.YYYY, MM-DD-YY, D/M/YYYY (a day above 12 settles it), ISO mixed
    with M/D/YYYY in one column, all-ambiguous M/D (must warn), and timestamps."""
    rnd = random.Random(7)
    days = [date(2019, 1, 1) + timedelta(days=rnd.randrange(2000)) for _ in range(n)]
    days[0] = date(2021, 3, 25)  # day 25 > 12 in the first position of D/M
    low = [date(2023, rnd.randrange(1, 13), rnd.randrange(1, 13)) for _ in range(n)]
    stamps = [
        datetime(2024, 5, 17, 8, 0) + timedelta(minutes=rnd.randrange(10**5)) for _ in range(n)
    ]
    rows = [["ISO", "US", "German", "Short", "Euro", "Mixed", "Ambiguous", "Stamp"]]
    for i, (d, a, t) in enumerate(zip(days, low, stamps, strict=True)):
        mixed = d.isoformat() if i % 2 else f"{d.month}/{d.day}/{d.year}"
        rows.append(
            [
                d.isoformat(),
                f"{d.month}/{d.day}/{d.year}",
                f"{d.day}.{d.month}.{d.year}",
                d.strftime("%m-%d-%y"),
                f"{d.day}/{d.month}/{d.year}",
                mixed,
                f"{a.month}/{a.day}/{a.year}",
                t.strftime("%Y-%m-%d %H:%M:%S"),
            ]
        )
    path = folder / "dates.csv"
    path.write_text(_csv_text(rows), encoding="utf-8")
    same = {c: list(days) for c in ("ISO", "US", "German", "Short", "Euro", "Mixed")}
    return Messy(
        path,
        {**same, "Ambiguous": low, "Stamp": stamps},
        {**dict.fromkeys(same, "date"), "Ambiguous": "date", "Stamp": "datetime"},
    )


MISSING_WORDS = ["None", "NA", "N/A", "null", "-"]


def missing_tokens_csv(folder: Path, n: int = 40) -> Messy:
    """NA-like words: category values in a text column, missing in number/date columns."""
    rnd = random.Random(8)
    status = [rnd.choice(["open", "closed", *MISSING_WORDS]) for _ in range(n)]
    status[0] = ""  # truly empty: the only NULL of the text column
    amounts = [rnd.choice([None, rnd.randrange(1, 999)]) for _ in range(n)]
    when = [
        rnd.choice([None, date(2024, 1, 1) + timedelta(days=rnd.randrange(300))]) for _ in range(n)
    ]
    rows = [["Status", "Amount", "When"]]
    for i, (s, a, w) in enumerate(zip(status, amounts, when, strict=True)):
        word = MISSING_WORDS[i % len(MISSING_WORDS)]
        rows.append([s, word if a is None else a, word if w is None else w.isoformat()])
    path = folder / "missing.csv"
    path.write_text(_csv_text(rows), encoding="utf-8")
    return Messy(
        path,
        {"Status": [s or None for s in status], "Amount": amounts, "When": when},
        {"Status": "text", "Amount": "integer", "When": "date"},
    )


def headers_csv(folder: Path) -> Messy:
    """Padded, duplicate and blank headers; trailing empty columns and rows."""
    rows = [
        [" Sales ", "Sales", "", "Region  ", "", ""],
        ["1", "2", "x", "East", "", ""],
        ["3", "4", "y", "West", "", ""],
        ["", "", "", "", "", ""],
        ["", "", "", "", "", ""],
    ]
    path = folder / "headers.csv"
    path.write_text(_csv_text(rows), encoding="utf-8")
    return Messy(
        path,
        {"Sales": [1, 3], "Sales_2": [2, 4], "column_3": ["x", "y"], "Region": ["East", "West"]},
        {"Sales": "integer", "Sales_2": "integer", "column_3": "text", "Region": "text"},
    )


# --- other formats --------------------------------------------------------------------


def parquet_file(folder: Path, n: int = 30) -> Messy:
    """Parquet with int32, float, decimal, date, timestamp, bool and string columns."""
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    rnd = random.Random(9)
    ints = [rnd.randrange(1000) for _ in range(n)]
    floats = [rnd.random() for _ in range(n)]
    prices = [Decimal(rnd.randrange(10**6)) / 100 for _ in range(n)]
    days = [date(2020, 1, 1) + timedelta(days=rnd.randrange(999)) for _ in range(n)]
    stamps = [datetime(2020, 1, 1) + timedelta(seconds=rnd.randrange(10**8)) for _ in range(n)]
    flags = [rnd.random() < 0.5 for _ in range(n)]
    codes = [f"00{rnd.randrange(100)}" for _ in range(n)]  # text that looks numeric stays text
    table = pa.table(
        {
            "Count ": pa.array(ints, pa.int32()),
            "Ratio": pa.array(floats, pa.float64()),
            "Price": pa.array(prices, pa.decimal128(10, 2)),
            "Day": pa.array(days, pa.date32()),
            "Stamp": pa.array(stamps, pa.timestamp("ms")),
            "Flag": pa.array(flags, pa.bool_()),
            "Code": pa.array(codes, pa.string()),
        }
    )
    path = folder / "typed.parquet"
    pq.write_table(table, path)
    return Messy(
        path,
        {
            "Count": ints,
            "Ratio": floats,
            "Price": [float(p) for p in prices],
            "Day": days,
            "Stamp": stamps,
            "Flag": flags,
            "Code": codes,
        },
        {
            "Count": "integer",
            "Ratio": "number",
            "Price": "number",
            "Day": "date",
            "Stamp": "datetime",
            "Flag": "boolean",
            "Code": "text",
        },
    )


def excel_xlsx(folder: Path, n: int = 25) -> Messy:
    """Workbook with two sheets; the first mixes real dates with serial numbers in one date
    column, has numbers stored as text (with currency), percentages as text, booleans and
    a blank-headed column. ``columns`` describes the first sheet ("Orders")."""
    import xlsxwriter

    rnd = random.Random(10)
    days = [date(2023, 1, 1) + timedelta(days=rnd.randrange(700)) for _ in range(n)]
    amounts = [rnd.randrange(100, 10**6) / 100 for _ in range(n)]
    pct = [rnd.randrange(100) for _ in range(n)]
    flags = [rnd.random() < 0.5 for _ in range(n)]
    regions = [rnd.choice(["North", "South", "NA"]) for _ in range(n)]
    path = folder / "orders.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet = workbook.add_worksheet("Orders")
    sheet.write_row(0, 0, ["Order Date", "Amount", "Rate", "Paid", " Region ", ""])
    for i in range(n):
        if i % 3 == 0:  # stored as a plain serial number, as when a cell lost its format
            sheet.write_number(i + 1, 0, (days[i] - date(1899, 12, 30)).days)
        else:
            sheet.write_datetime(
                i + 1, 0, datetime.combine(days[i], datetime.min.time()), date_format
            )
        sheet.write_string(i + 1, 1, f"${amounts[i]:,.2f}")
        sheet.write_string(i + 1, 2, f"{pct[i]}%")
        sheet.write_boolean(i + 1, 3, flags[i])
        sheet.write_string(i + 1, 4, regions[i])
        sheet.write_number(i + 1, 5, i)
    other = workbook.add_worksheet("Notes")
    other.write_row(0, 0, ["Note"])
    other.write_row(1, 0, ["hello"])
    workbook.close()
    return Messy(
        path,
        {
            "Order Date": days,
            "Amount": amounts,
            "Rate": [p / 100 for p in pct],
            "Paid": flags,
            "Region": regions,
            "column_6": list(range(n)),
        },
        {
            "Order Date": "date",
            "Amount": "number",
            "Rate": "number",
            "Paid": "boolean",
            "Region": "text",
            "column_6": "integer",
        },
    )


def excel_xls(folder: Path, n: int = 20) -> Messy:
    """Old .xls (BIFF8) written with xlwt: numbers, text and dates."""
    import xlwt

    rnd = random.Random(11)
    days = [date(2022, 1, 1) + timedelta(days=rnd.randrange(500)) for _ in range(n)]
    qty = [rnd.randrange(1000) for _ in range(n)]
    names = [rnd.choice(["Ann", "Bo", "Cy"]) for _ in range(n)]
    book = xlwt.Workbook()
    sheet = book.add_sheet("Data")
    style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for j, header in enumerate(["Name", "Qty", "Day"]):
        sheet.write(0, j, header)
    for i in range(n):
        sheet.write(i + 1, 0, names[i])
        sheet.write(i + 1, 1, qty[i])
        sheet.write(i + 1, 2, datetime.combine(days[i], datetime.min.time()), style)
    book.add_sheet("Empty")
    path = folder / "old.xls"
    book.save(str(path))
    return Messy(
        path,
        {"Name": names, "Qty": qty, "Day": days},
        {"Name": "text", "Qty": "integer", "Day": "date"},
    )


# --- files that must be refused -------------------------------------------------------


def empty_file(folder: Path) -> Path:
    """0 bytes."""
    path = folder / "empty.csv"
    path.write_bytes(b"")
    return path


def header_only_csv(folder: Path) -> Messy:
    """A header and no rows: loads as an empty table."""
    path = folder / "header_only.csv"
    path.write_text("A,B,C\n", encoding="utf-8")
    return Messy(path, {"A": [], "B": [], "C": []})


def png_named_csv(folder: Path) -> Path:
    """A PNG image renamed to .csv."""
    path = folder / "picture.csv"
    chunk = struct.pack(">I", 13) + b"IHDR" + struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk + b"\x00" * 64)
    return path


def random_bytes_csv(folder: Path, size: int = 20_000) -> Path:
    """Seeded random bytes named .csv."""
    path = folder / "noise.csv"
    path.write_bytes(random.Random(12).randbytes(size))
    return path


def truncated_xlsx(folder: Path) -> Path:
    """A real workbook cut in half (a broken download)."""
    whole = excel_xlsx(folder).path.read_bytes()
    path = folder / "truncated.xlsx"
    path.write_bytes(whole[: len(whole) // 2])
    return path


def encrypted_xlsx(folder: Path) -> Path:
    """What Excel writes for a password-protected workbook: an OLE2 compound file (magic
    ``D0 CF 11 E0 A1 B1 1A E1``) holding EncryptionInfo/EncryptedPackage, named .xlsx."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + struct.pack("<HH", 0x3E, 3)
    names = "".join(n + "\x00" for n in ("EncryptionInfo", "EncryptedPackage")).encode("utf-16-le")
    path = folder / "secret.xlsx"
    path.write_bytes(header.ljust(512, b"\x00") + names.ljust(1024, b"\x00"))
    return path


def zip_bomb_xlsx(folder: Path, unpacked_mb: int = 64) -> Path:
    """An .xlsx whose one sheet inflates ~1000-fold (a zip bomb in miniature)."""
    path = folder / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\x00" * (unpacked_mb * 1024**2))
    return path


def wide_csv(folder: Path, columns: int = 10_000) -> Path:
    """Two rows and ``columns`` columns."""
    path = folder / "wide.csv"
    header = ",".join(f"c{i}" for i in range(columns))
    path.write_text(header + "\n" + ",".join("1" for _ in range(columns)) + "\n", "utf-8")
    return path
