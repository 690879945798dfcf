"""When a marts build must start from raw: the project changed since the warehouse was built.

An incremental build patches the tables the last build left (dbt_project/macros/incremental.sql).
That is only sound when the models are the ones that built them: a changed model may compute
other values or columns for the rows it keeps. So the build passes the project's fingerprint to
dbt, the state table remembers it, and a build whose fingerprint the warehouse does not know
runs with `--full-refresh`. Settings, forgotten files and the like are handled inside dbt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from pipeline.engines.reads import build_warehouse_query
from pipeline.settings import DBT_PROJECT_DIR, Settings

# What the models are made of; docs, target/ and logs/ are not.
_PROJECT_PARTS = ("dbt_project.yml", "models", "macros")
_STATE_TABLE = "intermediate.ltv_build_state"


def project_fingerprint(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """SHA-256 over the path and content of every file the models are built from."""
    digest = hashlib.sha256()
    for part in _PROJECT_PARTS:
        root = project_dir / part
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.is_file():
                digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def project_unit(fingerprint: str) -> str:
    """The state table's unit standing for the project (int_build_units)."""
    return f"project:{fingerprint}"


def full_refresh_reason(settings: Settings, fingerprint: str) -> str | None:
    """Why the next build must rebuild every model from raw, or None when it may patch: asked
    of the warehouse dbt builds in (LTV_ENGINE).

    Read-only and brief: the caller holds the warehouse's single writer slot.
    """
    if settings.postgres is None and not settings.warehouse.exists():
        return None  # a first build is a full build anyway
    with build_warehouse_query(settings) as query:
        return _reason(lambda sql, params: int(query(sql, params)[0][0]), fingerprint)


def _reason(count: Callable[[str, list[str]], int], fingerprint: str) -> str | None:
    """full_refresh_reason() with `count(sql, params)`, the one number a query returns."""
    tables = "select count(*) from information_schema.tables where table_schema = ?"
    if not count(f"{tables} and table_name = 'ltv_build_state'", ["intermediate"]):
        if count(tables, ["marts"]):
            return "the marts were built by a version without incremental builds"
        return None
    unit = project_unit(fingerprint)
    known = count(f"select count(*) from {_STATE_TABLE} where unit = ?", [unit])
    return None if known else "the dbt project changed since the last complete build"
