"""Text files before DuckDB reads them: the encoding, the layout (delimiter, header, width),
line ends, a UTF-8 copy with LF line ends of files DuckDB can't read as they are, and the
number of a line too long."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kpi_logic.errors import IngestError
from kpi_logic.ingest.checks import MAGIC, looks_like

MAX_LINE_BYTES = 2_000_000  # one line of a text file (DuckDB's max_line_size)
_DELIMITERS = (",", ";", "\t", "|")
LINE_END = re.compile(r"\r\n?|\n")


def long_line(path: Path) -> int:
    """The number of the first line of ``path`` over ``MAX_LINE_BYTES`` (streamed)."""
    line, length = 1, 0
    with path.open("rb") as f:
        while chunk := f.read(1024**2):
            for k, part in enumerate(chunk.split(b"\n")):
                length = length + len(part) if k == 0 else len(part)
                line += k > 0
                if length > MAX_LINE_BYTES:
                    return line
    return line


def head_text(head: bytes, encoding: str) -> str:
    """The start of a UTF-8 or UTF-16 file as text (an incomplete last character dropped)."""
    return head.decode("utf-16" if encoding == "utf-16" else "utf-8-sig", errors="ignore")


def plain_newlines(text: str) -> bool:
    """Whether the lines of ``text`` all end in LF or all in CR LF, outside quoted cells (a
    line break inside quotes is part of the cell: Excel writes LF there in CR LF files)."""
    crlf = text.count("\r\n")
    if text.count("\r") == crlf and (crlf == 0 or text.count("\n") == crlf):
        return True
    outside = "\x00".join(text.split('"')[0::2])  # even parts lie outside quotes
    crlf = outside.count("\r\n")
    bare_cr = outside.count("\r") - crlf
    bare_lf = outside.count("\n") - crlf
    return bare_cr == 0 and (crlf == 0 or bare_lf == 0)


def unify_newlines(chunks: Iterable[str]) -> Iterator[str]:
    """The text of ``chunks`` with every line end outside quoted cells (CR LF, CR, LF) made
    LF; CR and LF inside quotes are kept. Quotes toggle as in RFC 4180 (``""`` twice)."""
    quoted, carry = False, ""
    for chunk in chunks:
        text, carry = carry + chunk, ""
        if text.endswith("\r"):  # perhaps the CR of a CR LF split between chunks
            text, carry = text[:-1], "\r"
        parts = text.split('"')
        first = 1 if quoted else 0
        parts[first::2] = [p.replace("\r\n", "\n").replace("\r", "\n") for p in parts[first::2]]
        quoted ^= len(parts) % 2 == 0
        yield '"'.join(parts)
    yield carry if quoted else carry.replace("\r", "\n")


def sniff_encoding(path: Path, head: bytes) -> str:
    """ "utf-8" or "utf-16" (read by DuckDB), or a Python codec to convert from first."""
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be"
    if any(head.startswith(magic) for magic in MAGIC):
        raise IngestError(f"{path.name} is not a text file{looks_like(head)}.")
    sample = head[:4096]
    if (
        sample
        and sample.count(b"\x00") > len(sample) // 3
        and sample[1::2].count(0) > len(sample) // 3
    ):
        return "utf-16-le"  # UTF-16 without a byte-order mark
    if b"\x00" in sample:
        raise IngestError(f"{path.name} is not a text file (it contains binary data).")
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        encoding = "utf-8"
    except UnicodeDecodeError:
        text, encoding = head.decode("cp1252", errors="replace"), "cp1252"
    controls = sum(1 for ch in text[:4096] if ch < " " and ch not in "\t\r\n")
    if controls > len(text[:4096]) // 100:
        raise IngestError(f"{path.name} is not a text file (it contains binary data).")
    return encoding


@contextmanager
def utf8_copy(path: Path, encoding: str) -> Iterator[Path]:
    """A temporary copy of ``path`` in the same folder (which DuckDB may read), in UTF-8 with
    LF line ends (``unify_newlines``). A file that is not valid UTF-8 after all is read as
    Windows-1252."""
    copy = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.utf8.csv")
    try:
        try:
            _write_utf8(path, copy, encoding)
        except UnicodeDecodeError:
            if encoding != "utf-8":
                raise
            _write_utf8(path, copy, "cp1252")
    except UnicodeDecodeError as err:
        copy.unlink(missing_ok=True)
        raise IngestError(f"{path.name} has text in an encoding that can't be read.") from err
    except OSError as err:
        copy.unlink(missing_ok=True)
        raise IngestError(f"{path.name} could not be converted to UTF-8: {err.strerror}.") from err
    try:
        yield copy
    finally:
        copy.unlink(missing_ok=True)


def _write_utf8(path: Path, copy: Path, encoding: str) -> None:
    """Write ``path``, decoded from ``encoding``, to ``copy`` as UTF-8 with LF line ends."""
    with copy.open("wb") as dst:
        for part in unify_newlines(_decoded(path, encoding)):
            dst.write(part.encode("utf-8"))


def _decoded(path: Path, encoding: str) -> Iterator[str]:
    """The text of ``path`` in 1 MB pieces; Windows-1252 with its five undefined bytes (0x81,
    0x8D, 0x8F, 0x90, 0x9D) read as Latin-1 (the control characters they are there)."""
    with path.open("rb") as src:
        if encoding == "cp1252":  # a byte a character: each piece decodes alone
            table = _cp1252_or_latin1()
            while chunk := src.read(1024**2):
                yield codecs.charmap_decode(chunk, "strict", table)[0]
            return
        decoder = codecs.getincrementaldecoder(encoding)()
        while chunk := src.read(1024**2):
            yield decoder.decode(chunk)
        yield decoder.decode(b"", final=True)


def _cp1252_or_latin1() -> str:
    """The character of each byte (a ``charmap_decode`` table): Windows-1252's, else Latin-1's."""
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256))


def sniff_layout(text: str, ext: str) -> tuple[str, list[str], int, bool, int | None]:
    """Delimiter, header cells, the number of lines the header takes, whether data rows
    follow it, and their number of fields when every data row read agrees on it.

    The delimiter is the one giving the most columns while the data rows agree on the count.
    """
    ends = [m.start() for m in itertools.islice(LINE_END.finditer(text), 50)]
    lines = text[: ends[-1]] if len(ends) == 50 else text  # the first 50 lines at most
    # The csv module refuses cells over 128 KB by default; none can be longer than ``lines``.
    csv.field_size_limit(max(csv.field_size_limit(), len(lines)))
    preferred = "\t" if ext == "tsv" else ","
    best: tuple[tuple[bool, int], str, list[str], int, bool, int | None]
    best = ((False, 0), preferred, [], 1, False, None)
    for delimiter in sorted(_DELIMITERS, key=lambda d: d != preferred):
        reader = csv.reader(io.StringIO(lines, newline=""), delimiter=delimiter)
        header = next(reader, [])
        header_lines = reader.line_num
        data = [r for r in reader if r]
        width = Counter(len(r) for r in data).most_common(1)[0][0] if data else len(header)
        matching = sum(len(r) == width for r in data)
        agree = matching >= 0.8 * len(data)
        score = (agree and width > 1, width if agree else 1)
        if score > best[0]:
            uniform = width if data and matching == len(data) else None
            best = (score, delimiter, header, header_lines, bool(data), uniform)
    return best[1:]
