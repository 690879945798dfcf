"""A first look at a landing file: is it a CSV export at all, and which one.

Reads only the first line, so the landing sensor can route a file to the right asset for the
cost of one small read, and the loader can build its SQL before DuckDB reads the rest. Every
way a file can be unusable as a whole is reported here as FileRejected with the fix.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from pipeline.ingest.headers import HeaderMatch, UnrecognisedHeader, match_header
from pipeline.ingest.rejection import FileRejected

HEAD_BYTES = 64 * 1024
# A spreadsheet in a European locale saves "CSV" with semicolons; Excel's "Unicode Text" is TSV.
DELIMITERS = (",", ";", "\t")

_SAVE_AS_CSV = (
    "Export the CSV from ThriveCart again, or open this file in your spreadsheet and save it "
    "as 'CSV UTF-8 (Comma delimited)'."
)
_MAGIC = {
    b"PK\x03\x04": "a ZIP archive or an Excel workbook (.xlsx)",
    b"\xd0\xcf\x11\xe0": "an Excel 97-2003 workbook (.xls)",
    b"\x1f\x8b": "a gzip archive",
    b"%PDF": "a PDF document",
}
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class ExportHead:
    """What the first line of an export says: the column mapping and the delimiter."""

    match: HeaderMatch
    delimiter: str


def _first_line(head: bytes) -> bytes:
    """The header line without its line break; FileRejected when the file has no usable one."""
    if not head.strip():
        raise FileRejected(
            "the file is empty." if not head else "the file holds only blank lines.",
            "A download that was interrupted leaves an empty file: export it from ThriveCart "
            "again.",
        )
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise FileRejected(f"the file is {what}, not a CSV file.", _SAVE_AS_CSV)
    if head.startswith(UTF16_BOMS):
        raise FileRejected("the file is saved as UTF-16 text ('Unicode Text').", _SAVE_AS_CSV)
    line, newline, _ = head.partition(b"\n")
    if not newline and len(head) >= HEAD_BYTES:
        raise FileRejected(
            f"the first line is longer than {HEAD_BYTES // 1024} KiB, so it is not an export "
            "header (is this a CSV file at all?).",
            _SAVE_AS_CSV,
        )
    line = line.rstrip(b"\r")
    if any(b < 0x20 and b != 0x09 for b in line):
        raise FileRejected("the file looks binary (control bytes in its first line).", _SAVE_AS_CSV)
    return line


def _decode_header(line: bytes) -> str:
    """The header as text: UTF-8 (with or without BOM), else Windows-1252."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return line.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileRejected(
        "the first line cannot be decoded as UTF-8 or Windows-1252 text.", _SAVE_AS_CSV
    )


def parse_header(line: str) -> ExportHead:
    """Recognise the export from its header line, trying each delimiter a spreadsheet uses.

    UnrecognisedHeader (a FileRejected) reports the split with the most columns.
    """
    errors: list[tuple[int, UnrecognisedHeader]] = []
    for delimiter in DELIMITERS:
        fields = next(csv.reader([line], delimiter=delimiter))
        try:
            return ExportHead(match=match_header(fields), delimiter=delimiter)
        except UnrecognisedHeader as exc:
            errors.append((len(fields), exc))
    raise max(errors, key=lambda e: e[0])[1]


def read_export_head(path: Path) -> ExportHead:
    """Read and recognise the header of the export at `path` (FileRejected if it is not one)."""
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    return parse_header(_decode_header(_first_line(head)))
