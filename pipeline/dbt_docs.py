"""The dbt docs site as one offline HTML file beside the snapshot (`dbt_docs.html`).

`dbt docs generate --static` embeds the manifest and the warehouse catalog in a single page
that opens straight from disk; the plain `index.html` fetches JSON files, which browsers refuse
over file://. dbt runs as a subprocess so its DuckDB connection is closed when it exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pipeline.files import write_atomically
from pipeline.settings import DBT_PROJECT_DIR, Settings

DOCS_NAME = "dbt_docs.html"
# How much of dbt's output a failure message keeps.
TAIL_LINES = 20


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


def write_dbt_docs(settings: Settings, out: Path | None = None) -> Path:
    """Generate the docs of the built warehouse and write them to `out` (default: beside the
    snapshot). Raises DbtDocsFailed with dbt's own words when dbt fails."""
    out = out or default_docs_path(settings)
    target = docs_target_dir(settings)
    argv = [
        dbt_executable(),
        "docs",
        "generate",
        "--static",
        *("--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)),
        *("--target-path", str(target), "--log-path", str(target)),
        *("--vars", json.dumps(settings.dbt_vars())),
    ]
    env = {**os.environ, **settings.dbt_env()}
    done = subprocess.run(argv, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-TAIL_LINES:])
        raise DbtDocsFailed(f"dbt docs generate failed (exit {done.returncode}):\n{tail}")
    write_atomically(out, (target / "static_index.html").read_bytes())
    return out
