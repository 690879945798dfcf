"""The dbt docs site as one offline HTML file beside the snapshot (`dbt_docs.html`).

It is the page `dbt docs generate --static` writes: dbt's docs page with the manifest and the
warehouse catalog embedded, so it opens straight from disk (the plain `index.html` fetches JSON
files, which browsers refuse over file://). It is made in process from the manifest of this
warehouse's last build, which the dbt asset keeps (with that build's compiled SQL), and the
catalog read from the warehouse (pipeline/dbt_catalog.py): a few tenths of a second per build,
where `dbt docs generate` started, parsed and compiled the project once more (5–8 s).
"""

from __future__ import annotations

import json
import re
import sys
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path
from typing import Any

from pipeline.dbt_artifacts import build_manifest_path
from pipeline.dbt_catalog import DUCKDB_CATALOG_SQL, POSTGRES_CATALOG_SQL, catalog, catalog_schemas
from pipeline.engines.reads import build_warehouse_query
from pipeline.files import write_atomically
from pipeline.settings import Settings

DOCS_NAME = "dbt_docs.html"
# Where dbt's page template takes the two documents (dbt's own `--static` replaces the same).
_MANIFEST_MARK = '"MANIFEST.JSON INLINE DATA"'
_CATALOG_MARK = '"CATALOG.JSON INLINE DATA"'


class DocsUnavailable(RuntimeError):
    """No build of this warehouse has finished, so there is no manifest to document."""


def dbt_executable() -> str:
    """The venv's dbt, beside this interpreter: `.venv/bin/ltv` runs without an activated venv."""
    return str(Path(sys.executable).with_name("dbt"))


def default_docs_path(settings: Settings) -> Path:
    return settings.marts_snapshot.with_name(DOCS_NAME)


def read_catalog(settings: Settings, manifest: dict[str, Any]) -> dict[str, Any]:
    """The catalog of the project's relations as the warehouse holds them now."""
    sql = POSTGRES_CATALOG_SQL if settings.postgres is not None else DUCKDB_CATALOG_SQL
    with build_warehouse_query(settings) as query:
        rows = query(sql, [catalog_schemas(manifest)])
    return catalog(manifest, rows, version("dbt-core"))


def docs_page(manifest_text: str, catalog_json: dict[str, Any]) -> str:
    """dbt's docs page with both documents embedded, in one pass: neither document's text is
    searched for the other's mark."""
    template = (files("dbt.task.docs") / "index.html").read_text(encoding="utf-8")
    parts = {_MANIFEST_MARK: manifest_text, _CATALOG_MARK: json.dumps(catalog_json)}
    pattern = "|".join(re.escape(mark) for mark in parts)
    return re.sub(pattern, lambda found: parts[found.group(0)], template)


def write_dbt_docs(settings: Settings, out: Path | None = None) -> Path:
    """Write the docs of the last build to `out` (default: beside the snapshot).

    Raises DocsUnavailable before any build of this warehouse has finished.
    """
    source = build_manifest_path(settings)
    if not source.is_file():
        raise DocsUnavailable(
            f"No dbt build of {settings.warehouse} has finished yet, and the docs page shows "
            "the last build. Materialize the dbt models (or run `ltv run`), then this again."
        )
    manifest_text = source.read_text(encoding="utf-8")
    page = docs_page(manifest_text, read_catalog(settings, json.loads(manifest_text)))
    out = out or default_docs_path(settings)
    write_atomically(out, page.encode())
    return out
