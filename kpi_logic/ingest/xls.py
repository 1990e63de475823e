"""The sheets of an .xls workbook and their sizes, from the BIFF records of its Workbook
stream, read through the OLE2 container's sector tables (the reader reads every sheet on
opening, so all are checked)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from kpi_logic.ingest.sheet_size import SheetSize

# one row (row, first column, ..., last column as the record's last two bytes).
_BIFF_CELL = frozenset({0x0006, 0x00D6, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E})
_BIFF_CELL_RUN = frozenset({0x00BD, 0x00BE})  # MULRK, MULBLANK
_BIFF_TEXT = frozenset({0x0204, 0x00D6})  # LABEL, RSTRING: row, column, format, length, text
_BIFF_SHEET, _BIFF_EOF, _BIFF_SST, _BIFF_CONTINUE, _BIFF_LABELSST = 0x85, 0x0A, 0xFC, 0x3C, 0xFD


def xls_sheet_sizes(path: Path) -> list[tuple[str, SheetSize]]:
    """Each sheet's cells, from the BIFF records of an .xls file's Workbook stream."""
    stream = _ole_stream(path, ("Workbook", "Book"))
    sheets: list[tuple[str, int]] = []
    shared: list[bytes] = []  # the shared strings record and its continuations
    for kind, data in _biff_records(stream, 0):
        if kind == _BIFF_SHEET and len(data) >= 8:
            sheets.append((_biff_sheet_name(data), int.from_bytes(data[:4], "little")))
        elif kind == _BIFF_SST or (kind == _BIFF_CONTINUE and shared):
            shared.append(data)
        elif kind == _BIFF_EOF or shared:
            break  # the end of the globals, or of their one string table
    lengths = _biff_string_lengths(shared)
    return [(name, _xls_sheet_size(stream, offset, lengths)) for name, offset in sheets]


def _xls_sheet_size(stream: bytes, offset: int, lengths: list[int]) -> SheetSize:
    """The cells of the sheet whose records start at ``offset``; ``lengths``: the number of
    characters of each shared string."""
    size, longest = SheetSize(), max(lengths, default=0)
    for kind, data in _biff_records(stream, offset):
        # 3 bytes a character: the most UTF-8 takes for one
        if kind == _BIFF_LABELSST and len(data) >= 10:
            index = int.from_bytes(data[6:10], "little")
            size.text += 3 * (lengths[index] if index < len(lengths) else longest)
        elif kind in _BIFF_TEXT and len(data) >= 8:  # a text written in its cell
            size.text += 3 * (data[6] | data[7] << 8)
        if kind in _BIFF_CELL and len(data) >= 4:
            row, col, count = data[0] | data[1] << 8, data[2] | data[3] << 8, 1
        elif kind in _BIFF_CELL_RUN and len(data) >= 6:
            row, first = data[0] | data[1] << 8, data[2] | data[3] << 8
            col = data[-2] | data[-1] << 8
            count = max(col - first + 1, 0)
        elif kind == _BIFF_EOF:
            break
        else:
            continue
        size.rows, size.columns = max(size.rows, row + 1), max(size.columns, col + 1)
        size.cells += count
    return size


def _biff_string_lengths(parts: list[bytes]) -> list[int]:
    """The number of characters of each string of an SST record (``parts``: its data, then
    its CONTINUE records'). A string's characters may go on in the next part, which then
    starts with a byte saying whether they are 8 or 16 bits wide."""
    if not parts or len(parts[0]) < 8:
        return []
    count = int.from_bytes(parts[0][4:8], "little")
    parts = [parts[0][8:], *parts[1:]]
    part, pos = 0, 0
    lengths: list[int] = []

    def take(n: int) -> bytes:  # n bytes of headers, runs or extensions, across parts
        nonlocal part, pos
        out = b""
        while len(out) < n and part < len(parts):
            piece = parts[part][pos : pos + n - len(out)]
            out, pos = out + piece, pos + len(piece)
            if pos >= len(parts[part]):
                part, pos = part + 1, 0
        return out

    while len(lengths) < count and part < len(parts):
        head = take(3)
        if len(head) < 3:
            break
        chars, flags = head[0] | head[1] << 8, head[2]
        runs = int.from_bytes(take(2), "little") if flags & 8 else 0
        extra = int.from_bytes(take(4), "little") if flags & 4 else 0
        width, left = 2 if flags & 1 else 1, chars
        while left and part < len(parts):
            fits = min(left, (len(parts[part]) - pos) // width)
            left, pos = left - fits, pos + fits * width
            if left and part + 1 < len(parts):  # goes on in the next part, after a flag byte
                part, pos = part + 1, 1
                width = 2 if parts[part][:1] == b"\x01" else 1
            elif left:
                part += 1
        take(4 * runs + extra)
        lengths.append(chars)
    return lengths


def _biff_records(stream: bytes, offset: int) -> Iterator[tuple[int, bytes]]:
    """``(record type, data)`` from ``offset`` to the end of ``stream``."""
    while offset + 4 <= len(stream):
        kind = stream[offset] | stream[offset + 1] << 8
        length = stream[offset + 2] | stream[offset + 3] << 8
        yield kind, stream[offset + 4 : offset + 4 + length]
        offset += 4 + length


def _biff_sheet_name(data: bytes) -> str:
    """The name in a BOUNDSHEET record (BIFF8: 8-bit or UTF-16 by a flag; BIFF5: 8-bit)."""
    length, wide = data[6], len(data) > 7 and data[7] & 1
    if len(data) >= 8 + length * (2 if wide else 1):  # BIFF8
        raw = data[8 : 8 + length * (2 if wide else 1)]
        return raw.decode("utf-16-le" if wide else "latin-1", errors="replace")
    return data[7 : 7 + length].decode("latin-1", errors="replace")


def _ole_stream(path: Path, names: Sequence[str]) -> bytes:
    """The first of the streams ``names`` in an OLE2 compound file (the container of .xls),
    read through its sector tables; b"" when there is none or the file is damaged."""
    data = path.read_bytes()
    try:
        shift = int.from_bytes(data[30:32], "little")
        mini_shift = int.from_bytes(data[32:34], "little")
        if not 7 <= shift <= 16 or not 2 <= mini_shift < shift:
            return b""
        ssize = 1 << shift
        sectors = (len(data) - 512) // ssize + 2  # most sectors a chain can visit

        def sector(n: int) -> bytes:
            return data[(n + 1) * ssize : (n + 2) * ssize]

        def u32s(raw: bytes) -> list[int]:
            return [int.from_bytes(raw[i : i + 4], "little") for i in range(0, len(raw), 4)]

        difat = u32s(data[76:512])
        next_difat, seen = int.from_bytes(data[68:72], "little"), 0
        while next_difat < 0xFFFFFFFA and seen < sectors:
            entries = u32s(sector(next_difat))
            difat, next_difat, seen = difat + entries[:-1], entries[-1], seen + 1
        fat = [e for n in difat if n < 0xFFFFFFFA for e in u32s(sector(n))]

        def chain(start: int, table: list[int]) -> Iterator[int]:
            for _ in range(sectors * (1 << (shift - mini_shift))):
                if not 0 <= start < len(table):
                    return
                yield start
                start = table[start]

        def read(start: int) -> bytes:
            return b"".join(sector(n) for n in chain(start, fat))

        directory = read(int.from_bytes(data[48:52], "little"))
        records = [directory[i : i + 128] for i in range(0, len(directory) - 127, 128)]
        root = records[0]
        found = {
            e[: int.from_bytes(e[64:66], "little")].decode("utf-16-le", "replace").rstrip("\0"): e
            for e in records
            if e[66] == 2
        }
        entry = next((found[n] for n in names if n in found), None)
        if entry is None:
            return b""
        start = int.from_bytes(entry[116:120], "little")
        size = int.from_bytes(entry[120:124], "little")
        if size >= int.from_bytes(data[56:60], "little"):
            return read(start)[:size]
        mini_fat = u32s(read(int.from_bytes(data[60:64], "little")))
        mini = read(int.from_bytes(root[116:120], "little"))
        msize = 1 << mini_shift
        return b"".join(mini[n * msize : (n + 1) * msize] for n in chain(start, mini_fat))[:size]
    except IndexError:
        return b""
