"""Exports re-saved by a spreadsheet on Windows arrive in Windows-1252, not UTF-8.

DuckDB 2.0's CSV reader knows UTF-8, UTF-16 and Latin-1 only, and its Latin-1 refuses the bytes
where Windows-1252 puts `€`, `’` and `–` (0x80-0x9F). So the loader reads every file as UTF-8
(the fast path, no Python pass over the data) and only when DuckDB reports undecodable rows
asks this module what the file is, transcoding it to a temporary UTF-8 copy if it is 1252.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.ingest.rejection import FileRejected

UTF8 = "utf-8"
WINDOWS_1252 = "windows-1252"
_CHUNK = 1 << 20
# One well-formed multi-byte UTF-8 sequence: Windows-1252 text practically never contains one.
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            yield chunk


def classify_non_utf8(path: Path) -> str:
    """What a file with bytes that are not valid UTF-8 really is.

    UTF8 when it also holds well-formed UTF-8 (so it is UTF-8 with a few damaged rows, which
    are rejected row by row); WINDOWS_1252 when it decodes as that; FileRejected otherwise.
    """
    utf8_seen = False
    cp1252_ok = True
    for chunk in _chunks(path):
        utf8_seen = utf8_seen or _UTF8_SEQUENCE.search(chunk) is not None
        if cp1252_ok:
            try:
                chunk.decode("cp1252")
            except UnicodeDecodeError:
                cp1252_ok = False
    if utf8_seen:
        return UTF8
    if cp1252_ok:
        return WINDOWS_1252
    raise undecodable()


def undecodable() -> FileRejected:
    """The rejection of a file that is neither UTF-8 nor Windows-1252 text."""
    return FileRejected(
        "the file cannot be decoded: it is neither UTF-8 nor Windows-1252 text.",
        "Open it in your spreadsheet and save it as 'CSV UTF-8 (Comma delimited)', or export "
        "it from ThriveCart again.",
    )


@contextmanager
def utf8_copy(path: Path) -> Iterator[Path]:
    """A temporary UTF-8 copy of a Windows-1252 file (single-byte, so chunks decode alone)."""
    with tempfile.TemporaryDirectory(prefix="ltv-transcode-") as tmp:
        copy = Path(tmp) / path.name
        with copy.open("wb") as out:
            for chunk in _chunks(path):
                out.write(chunk.decode("cp1252").encode("utf-8"))
        yield copy
