"""Files that cannot be loaded at all: moved to `landing/rejected/` with a note saying why.

A rejected file must not sit in the landing folder looking pending, and must not be lost: it
moves aside with `<name>.error.txt` beside it, naming the problem and the fix, and the same
text fails the Dagster run so the UI shows it too. Other files are not affected.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path


class FileRejected(Exception):
    """A landing file that cannot be loaded; `str(exc)` is the problem followed by the fix."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem} {fix}")
        self.problem = problem
        self.fix = fix


def _free_name(directory: Path, name: str, sha256: str | None) -> Path:
    """`name` in `directory`, or a variant that neither it nor its error note already uses."""
    candidate = directory / name
    stem, suffix = Path(name).stem, Path(name).suffix
    tag = (sha256 or "")[:12]
    n = 1
    while candidate.exists() or Path(f"{candidate}.error.txt").exists():
        n += 1
        marker = f"{tag}-{n}" if tag else str(n)
        candidate = directory / f"{stem}.{marker}{suffix}"
    return candidate


def error_note(rel_path: str, sha256: str | None, error: FileRejected) -> str:
    """The text of `<name>.error.txt`: what is wrong, how to fix it, how to retry."""
    lines = [
        "This file could not be loaded into the ThriveCart LTV warehouse.",
        "",
        f"File:     {rel_path} (in the landing folder)",
    ]
    if sha256:
        lines.append(f"SHA-256:  {sha256}")
    lines += [
        f"Rejected: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%S')} UTC",
        "",
        f"Problem:  {error.problem}",
        f"Fix:      {error.fix}",
        "",
        "Then drop the corrected file into the landing folder again. This copy and this note",
        "can be deleted once it has loaded.",
    ]
    return "\n".join(lines) + "\n"


def move_to_rejected(
    path: Path, rel_path: str, rejected_dir: Path, error: FileRejected, sha256: str | None
) -> Path:
    """Move `path` into `rejected_dir` with its `.error.txt` and return the new location."""
    rejected_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(rejected_dir, path.name, sha256)
    Path(f"{target}.error.txt").write_text(error_note(rel_path, sha256, error), encoding="utf-8")
    shutil.move(path, target)
    return target
