"""Checks before any reader: the file's type, size and signature, a workbook's container
(encryption, zip bombs, part sizes) and the column count."""

from __future__ import annotations

import zipfile
from pathlib import Path

from kpi_logic.errors import IngestError

SUPPORTED_EXTENSIONS = ("csv", "tsv", "txt", "parquet", "xlsx", "xls")
MAX_FILE_BYTES = 2 * 1024**3  # any file, checked before anything is read
MAX_EXCEL_BYTES = 200 * 1024**2  # workbooks are read whole into memory
MAX_UNZIPPED_BYTES = 1024**3  # xlsx: declared uncompressed size of all parts
MAX_ZIP_RATIO = 200  # xlsx: compression ratio of one large part (zip bombs are far above)
MAX_XLSX_PART_BYTES = 192 * 1024**2  # xlsx: one part unpacked (a sheet's XML, shared strings)
MAX_COLUMNS = 2_000
MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a zip archive (perhaps an .xlsx workbook)",
    b"\xd0\xcf\x11\xe0": "an old Office file (perhaps an .xls workbook)",
    b"\x1f\x8b": "a gzip archive",
    b"PAR1": "a Parquet file",
}
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def extension(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


def check_file(path: Path, max_bytes: int) -> None:
    """Exists, is not empty, is not over ``max_bytes``."""
    if not path.is_file():
        raise IngestError(f"File not found: {path.name}")
    size = path.stat().st_size
    if size == 0:
        raise IngestError(f"{path.name} is empty (0 bytes).")
    if size > max_bytes:
        raise IngestError(f"{path.name} is {megabytes(size)}; the limit is {megabytes(max_bytes)}.")


def megabytes(size: int) -> str:
    return f"{size / 1024**2:,.1f} MB"


def check_workbook(path: Path, ext: str) -> None:
    """Refuse encrypted, corrupt or zip-bomb workbooks before any parser sees them (an .xls
    is only checked to be an OLE2 file here: ``excel`` checks its sheets' sizes)."""
    with path.open("rb") as f:
        head = f.read(64)
    if ext == "xls":
        if not head.startswith(OLE_MAGIC):
            raise IngestError(f"{path.name} is not an Excel .xls workbook{looks_like(head)}.")
        return
    if head.startswith(OLE_MAGIC[:4]):
        raise IngestError(
            f"{path.name} is password-protected (encrypted); save it without a password."
        )
    if not head.startswith(b"PK"):
        raise IngestError(f"{path.name} is not an Excel .xlsx workbook{looks_like(head)}.")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
    except (zipfile.BadZipFile, OSError) as err:
        raise IngestError(f"{path.name} is damaged or incomplete (not a readable .xlsx).") from err
    if "xl/workbook.xml" not in names:
        raise IngestError(f"{path.name} is a zip file but not an Excel workbook.")
    total = sum(i.file_size for i in infos)
    bomb = any(
        i.file_size > 10 * 1024**2 and i.file_size > MAX_ZIP_RATIO * max(i.compress_size, 1)
        for i in infos
    )
    if total > MAX_UNZIPPED_BYTES or bomb:
        raise IngestError(
            f"{path.name} is refused as unsafe: its {megabytes(path.stat().st_size)} would "
            f"unpack to {megabytes(total)}."
        )
    largest = max(infos, key=lambda i: i.file_size)
    if largest.file_size > MAX_XLSX_PART_BYTES:  # e.g. shared strings: the reader holds them
        raise IngestError(
            f"{path.name} is too large to load: its part {largest.filename} unpacks to "
            f"{megabytes(largest.file_size)} (the limit is {megabytes(MAX_XLSX_PART_BYTES)})."
        )


def looks_like(head: bytes) -> str:
    """``": it looks like a PNG image"`` for known file signatures, else ``""``."""
    if head.lstrip().lower().startswith((b"<!doctype", b"<html", b"<table")):
        return ": it looks like a web page (open it in Excel and save it as .xlsx)"
    for magic, what in MAGIC.items():
        if head.startswith(magic):
            return f": it looks like {what}"
    return ""


def check_columns(path: Path, count: int) -> None:
    if count > MAX_COLUMNS:
        raise IngestError(
            f"{path.name} has {count:,} columns; at most {MAX_COLUMNS:,} can be loaded."
        )
