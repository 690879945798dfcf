"""The dbt docs site as one offline HTML file beside the snapshot (`dbt_docs.html`).

`dbt docs generate --static` embeds the manifest and the warehouse catalog in a single page
that opens straight from disk; the plain `index.html` fetches JSON files, which browsers refuse
over file://. dbt runs as a subprocess so its DuckDB connection is closed when it exits.

The page depends only on the project, the settings dbt reads and the warehouse's schema (the
catalog holds column names and types, no row counts), never on the data. So it is regenerated
only when one of those changed: a new dbt start-up per build cost 13 CPU seconds of every
freshness cycle.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from pipeline.dbt_command import project_args, vars_args
from pipeline.files import write_atomically
from pipeline.settings import DBT_PROJECT_DIR, Settings
from pipeline.warehouse import RAW_DDL

DOCS_NAME = "dbt_docs.html"
# How much of dbt's output a failure message keeps.
TAIL_LINES = 20
# dbt's own folders in the project: outputs, not sources of the docs.
_NOT_SOURCES = {"target", "logs", "dbt_packages"}


class DbtDocsFailed(RuntimeError):
    """`dbt docs generate` exited non-zero; the message ends with its last output lines."""


def dbt_executable() -> str:
    """The venv's dbt, beside this interpreter: `.venv/bin/ltv` runs without an activated venv."""
    return str(Path(sys.executable).with_name("dbt"))


def default_docs_path(settings: Settings) -> Path:
    return settings.marts_snapshot.with_name(DOCS_NAME)


def docs_target_dir(settings: Settings) -> Path:
    """dbt's target folder for docs, kept per warehouse so the next run can parse partially."""
    return settings.warehouse.with_name(".dbt-docs-target")


def docs_fingerprint(settings: Settings) -> str:
    """SHA-256 of everything the docs page is made from: the dbt project's files, the vars,
    the raw tables' DDL (their catalog entries) and the dbt version."""
    digest = hashlib.sha256()
    for part in (version("dbt-core"), json.dumps(settings.dbt_vars(), sort_keys=True), *RAW_DDL):
        digest.update(part.encode() + b"\0")
    for path in sorted(DBT_PROJECT_DIR.rglob("*")):
        relative = path.relative_to(DBT_PROJECT_DIR)
        if path.is_file() and relative.parts[0] not in _NOT_SOURCES:
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def write_dbt_docs(settings: Settings, out: Path | None = None) -> tuple[Path, bool]:
    """Write the docs of the built warehouse to `out` (default: beside the snapshot), unless
    the page there was made from the same project, settings and schema.

    Returns the path and whether dbt ran. Raises DbtDocsFailed with dbt's own words when dbt
    fails.
    """
    out = out or default_docs_path(settings)
    target = docs_target_dir(settings)
    fingerprint = docs_fingerprint(settings)
    made_from = target / "docs.fingerprint"
    if out.is_file() and made_from.is_file() and made_from.read_text() == fingerprint:
        return out, False
    argv = [
        dbt_executable(),
        "docs",
        "generate",
        "--static",
        *project_args(),
        *("--target-path", str(target), "--log-path", str(target)),
        *vars_args(settings),
        *("--log-level-file", "none"),
    ]
    done = subprocess.run(argv, cwd=DBT_PROJECT_DIR, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-TAIL_LINES:])
        raise DbtDocsFailed(f"dbt docs generate failed (exit {done.returncode}):\n{tail}")
    write_atomically(out, (target / "static_index.html").read_bytes())
    write_atomically(made_from, fingerprint.encode())
    return out, True
