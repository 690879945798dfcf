"""Build the report: read the published snapshot, render the page, write it in one piece."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.files import write_atomically
from pipeline.report.contents import collect
from pipeline.report.marts import open_marts
from pipeline.report.page import render_page
from pipeline.settings import Settings

REPORT_NAME = "ltv_report.html"


@dataclass(frozen=True)
class ReportResult:
    """The written report and what it covers."""

    path: Path
    currencies: list[str]
    as_of: datetime | None
    size_bytes: int


def default_report_path(settings: Settings) -> Path:
    """Where the report goes unless told otherwise: beside the snapshot it is built from."""
    return settings.marts_snapshot.with_name(REPORT_NAME)


def write_report(settings: Settings, out: Path | None = None) -> ReportResult:
    """Write the HTML report of the published snapshot to `out` (default: beside it).

    Reads the snapshot, never the warehouse, so it needs no lock and may run while the pipeline
    works. Raises ReportError when the snapshot is missing or lacks a mart the report reads.
    """
    out = out or default_report_path(settings)
    snapshot = settings.marts_snapshot
    with open_marts(snapshot) as con:
        published_at = datetime.fromtimestamp(snapshot.stat().st_mtime, UTC).replace(tzinfo=None)
        contents = collect(con, published_at)
    data = render_page(contents).encode("utf-8")
    write_atomically(out, data)
    return ReportResult(
        path=out,
        currencies=[c.currency for c in contents.currencies],
        as_of=contents.as_of.at,
        size_bytes=len(data),
    )
