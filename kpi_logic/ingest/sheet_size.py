"""A workbook sheet's size, read from the file before any parser sees it: the span of its
cells, their number and their text, from an .xlsx sheet's XML (streamed); ``check_sheet_size``
refuses a sheet over a limit. .xls sizes come from ``xls``."""

from __future__ import annotations

import itertools
import posixpath
import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from kpi_logic.errors import IngestError
from kpi_logic.ingest.checks import megabytes

# One sheet, counted from its cells before any parser sees it (bench/bench_excel.py measures
# the peak memory of loads at these limits): the Excel reader makes a grid of rows x columns
# from A1 to the last cell (~55 bytes a grid cell), plus the cells with something in them.
MAX_SHEET_SPAN = 6_000_000  # rows x columns from A1 to the last row and column used
MAX_SHEET_CELLS = 3_000_000  # cells written in the sheet (filled or not)
MAX_SHEET_TEXT_BYTES = 32 * 1024**2  # text of the cells, a shared string once per cell


@dataclass
class SheetSize:
    """What a sheet's cells span: the last row and column used (1-based), the cell count and
    the bytes of text its cells hold (the reader copies a shared string into each cell)."""

    rows: int = 0
    columns: int = 0
    cells: int = 0
    text: int = 0

    @property
    def span(self) -> int:
        return self.rows * self.columns


def check_sheet_size(path: Path, sheet: str, size: SheetSize) -> None:
    """Refuse a sheet over ``MAX_SHEET_SPAN``, ``MAX_SHEET_CELLS`` or ``MAX_SHEET_TEXT_BYTES``,
    in one line."""
    if size.span > MAX_SHEET_SPAN:
        raise IngestError(
            f"Sheet {sheet!r} of {path.name} is too large to load: its cells reach row "
            f"{size.rows:,} and column {size.columns:,}, a grid of {size.span:,} cells (the "
            f"limit is {MAX_SHEET_SPAN:,}). Delete what lies outside the table and save it again."
        )
    if size.cells > MAX_SHEET_CELLS:
        raise IngestError(
            f"Sheet {sheet!r} of {path.name} is too large to load: it has {size.cells:,} cells "
            f"(the limit is {MAX_SHEET_CELLS:,})."
        )
    if size.text > MAX_SHEET_TEXT_BYTES:
        raise IngestError(
            f"Sheet {sheet!r} of {path.name} is too large to load: its cells hold "
            f"{megabytes(size.text)} of text (the limit is {megabytes(MAX_SHEET_TEXT_BYTES)})."
        )


_XML_CELL = re.compile(rb"[<:]c[\s/>]")  # a cell element, with or without a namespace prefix
_XML_ROW = re.compile(rb"[<:]row[\s/>]")
# The r="..." attribute of any element: "B7" on cells, "7" on rows. Others are counted too,
# so a position can only come out too large, never too small.
_XML_REF = re.compile(rb"""\sr\s*=\s*["']([A-Za-z]*)([0-9]+)["']""")
_XML_SHARED_CELL = re.compile(rb"""\st\s*=\s*["']s["']""")  # a cell holding a shared string
_XML_SHARED_VALUE = re.compile(  # ... and its value, the string's number
    rb"""\st\s*=\s*["']s["'][^>]*>\s*<(?:[A-Za-z_][\w.-]*:)?v>\s*([0-9]{1,9})\s*<"""
)
_XML_SHARED_STRING = re.compile(rb"[<:]si[\s/>]")
# Text written in the cells (inline strings, formula results) counts with shared text when
# longer than any number can be; shorter texts are covered by the cell limit.
_XML_LONG_TEXT = re.compile(rb">([^<]{25,})<")
_XML_PIECE_BYTES = 1024**2  # no tag or text of a sheet is this long (a cell holds 32,767 chars)
_XML_SMALL_PART = 16 * 1024**2  # workbook.xml and its relationships, parsed whole


def xlsx_sheet_size(path: Path, sheet: str) -> SheetSize:
    """The cells of ``sheet`` as its XML states them, streamed in 1 MB pieces.

    The ``<dimension>`` element may lie, so every cell's reference decides (the reader sizes
    its grid by them); cells and rows without a reference take the next position, so each
    one adds a column or a row at most. The scan stops once a limit is passed.
    """
    size = SheetSize()
    refs = rows = row_refs = unread = 0  # unread: cells of shared text counted at the longest
    uses: Counter[bytes] = Counter()  # shared string number -> cells showing it
    with zipfile.ZipFile(path) as zf:
        part, strings = _xlsx_parts(path, zf, sheet)
        lengths = _shared_string_sizes(zf, strings)
        longest = max(lengths, default=0)
        with zf.open(part) as xml:
            carry = b""
            while chunk := xml.read(1024**2):
                data, carry = _complete_tags(carry + chunk)
                if len(carry) > _XML_PIECE_BYTES:
                    raise IngestError(f"Sheet {sheet!r} of {path.name} is not valid XML.")
                size.text += sum(map(len, _XML_LONG_TEXT.findall(data)))
                size.cells += _count_cells(data)
                # <rowBreaks> counts too: a row more at most
                rows += len(_XML_ROW.findall(data)) if b":row" in data else data.count(b"<row")
                if found := _XML_REF.findall(data):
                    letters, digits = zip(*found, strict=True)
                    row_refs += letters.count(b"")  # a row's reference has no letters
                    refs += len(letters) - letters.count(b"")
                    size.columns = max(size.columns, _largest_column(set(letters)))
                    size.rows = max(size.rows, _largest_number(set(digits)))
                shown = _count_shared_cells(data)
                # cells counted at the longest string take a quarter of the limit at most;
                # past that, which string each cell shows is read
                if (unread + shown) * longest > MAX_SHEET_TEXT_BYTES // 4:
                    values = _XML_SHARED_VALUE.findall(data)
                    uses.update(values)
                    shown -= len(values)
                unread += shown
                if size.span > MAX_SHEET_SPAN or size.cells > MAX_SHEET_CELLS:
                    return size
    size.columns += max(size.cells - refs, 0)
    size.rows += max(rows - row_refs, 0)
    size.text += unread * longest + sum(
        n * (lengths[int(i)] if int(i) < len(lengths) else longest) for i, n in uses.items()
    )
    return size


def _count_cells(data: bytes) -> int:
    """How many ``<c`` elements ``data`` holds: counted as plain bytes, unless some element
    has a namespace prefix (then with a pattern)."""
    if b":c" in data:
        return len(_XML_CELL.findall(data))
    return sum(data.count(b"<c" + end) for end in (b" ", b">", b"/", b"\t", b"\n", b"\r"))


def _count_shared_cells(data: bytes) -> int:
    """How many ``t="s"`` attributes ``data`` holds: counted as plain bytes, unless it is
    written in another way somewhere (then with a pattern)."""
    if any(variant in data for variant in (b"t='", b"t =", b"t= ", b"\tt=", b"\nt=", b"\rt=")):
        return len(_XML_SHARED_CELL.findall(data))
    return data.count(b' t="s"')


def _complete_tags(data: bytes) -> tuple[bytes, bytes]:
    """``data`` up to its last ``<``, and the rest: no tag or text is cut in two."""
    cut = data.rfind(b"<")
    return (data, b"") if cut < 0 else (data[:cut], data[cut:])


def _largest_number(digits: set[bytes]) -> int:
    """The largest of decimal numbers given as ASCII digits (however many digits)."""
    trimmed = {d.lstrip(b"0") or b"0" for d in digits}
    longest = max(map(len, trimmed))
    return int(max(d for d in trimmed if len(d) == longest)[:12])


def _largest_column(letters: set[bytes]) -> int:
    """The largest column number (A = 1) of column letters such as ``XFD``."""
    upper = {c.upper() for c in letters}
    longest = max(map(len, upper))  # 0 when only rows have references
    number = 0
    for ch in max(c for c in upper if len(c) == longest)[:8]:
        number = number * 26 + ch - 64
    return number


def _xlsx_parts(path: Path, zf: zipfile.ZipFile, sheet: str) -> tuple[str, list[str]]:
    """The zip members holding ``sheet``'s XML and the shared strings, found as the reader
    finds them (workbook.xml's sheet entry and the workbook's relationships). A workbook
    whose sheet can't be found is refused: what isn't found can't be checked."""
    from xml.etree import ElementTree

    damaged = IngestError(f"{path.name} is damaged: sheet {sheet!r} can't be found in it.")
    rels_name = "xl/_rels/workbook.xml.rels"
    try:
        if any(zf.getinfo(n).file_size > _XML_SMALL_PART for n in ("xl/workbook.xml", rels_name)):
            raise damaged
        workbook = ElementTree.fromstring(zf.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(zf.read(rels_name))
    except (KeyError, ElementTree.ParseError) as err:
        raise damaged from err
    rel_id = next(
        (
            value
            for element in workbook.iter()
            if element.tag.endswith("}sheet") and element.get("name") == sheet
            for key, value in element.attrib.items()
            if key.endswith("}id")
        ),
        None,
    )
    targets = {r.get("Id"): r.get("Target") or "" for r in rels}
    strings = next(
        (r.get("Target") for r in rels if (r.get("Type") or "").endswith("/sharedStrings")), None
    )
    names = set(zf.namelist())

    def member(target: str) -> str:
        name = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        return posixpath.normpath(name)

    part = member(targets.get(rel_id, "")) if rel_id in targets else None
    if part is None or part not in names:
        raise damaged
    # the reader may take the usual name whatever the relationships say: both are counted
    shared = {member(strings) if strings else "", "xl/sharedStrings.xml"} & names
    return part, sorted(shared)


def _shared_string_sizes(zf: zipfile.ZipFile, parts: list[str]) -> list[int]:
    """The size in bytes of each shared string's XML (``<si>`` to the next), streamed: an
    upper bound of its text (the larger one where ``parts`` hold two lists)."""
    found = [_string_sizes(zf, part) for part in parts]
    return [max(sizes) for sizes in itertools.zip_longest(*found, fillvalue=0)]


def _string_sizes(zf: zipfile.ZipFile, part: str) -> list[int]:
    """``_shared_string_sizes`` of one part."""
    starts: list[int] = []
    offset, carry = 0, b""
    with zf.open(part) as xml:
        while chunk := xml.read(1024**2):
            data, carry = _complete_tags(carry + chunk)
            starts += [offset + m.start() for m in _XML_SHARED_STRING.finditer(data)]
            offset += len(data)
    ends = starts[1:] + [offset + len(carry)]
    return [end - start for start, end in zip(starts, ends, strict=True)]
