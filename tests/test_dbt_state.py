"""When a marts build must start from raw (pipeline/dbt_state.py), without dbt or Dagster."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.dbt_state import full_refresh_reason, project_fingerprint, project_unit
from pipeline.settings import Settings


def _project(root: Path) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "macros").mkdir()
    (root / "dbt_project.yml").write_text("name: p\n")
    (root / "models" / "a.sql").write_text("select 1 as a\n")
    return root


def test_the_fingerprint_follows_the_models_and_macros_only(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    first = project_fingerprint(project)
    assert project_fingerprint(project) == first

    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text("{}")
    assert project_fingerprint(project) == first, "build output is not the project"

    (project / "models" / "a.sql").write_text("select 2 as a\n")
    changed = project_fingerprint(project)
    assert changed != first
    (project / "macros" / "m.sql").write_text("{% macro m() %}1{% endmacro %}\n")
    assert project_fingerprint(project) not in (first, changed)


def _warehouse(path: Path, *statements: str) -> Path:
    with duckdb.connect(str(path)) as con:
        for statement in statements:
            con.execute(statement)
    return path


def _asked(warehouse: Path, fingerprint: str) -> str | None:
    """full_refresh_reason() of a DuckDB warehouse."""
    folder = warehouse.parent
    settings = Settings(folder / "landing", warehouse, folder / "marts.duckdb", folder / "home")
    return full_refresh_reason(settings, fingerprint)


STATE = (
    "create schema intermediate",
    "create table intermediate.ltv_build_state (unit varchar, loaded_at timestamp)",
)


def test_a_full_refresh_is_needed_only_when_the_warehouse_does_not_know_the_project(
    tmp_path: Path,
) -> None:
    assert _asked(tmp_path / "none.duckdb", "f1") is None, "first build"
    raw_only = _warehouse(tmp_path / "raw.duckdb", "create schema raw")
    assert _asked(raw_only, "f1") is None, "nothing built yet"

    before_incremental = _warehouse(
        tmp_path / "old.duckdb", "create schema marts", "create table marts.t (a int)"
    )
    assert "without incremental builds" in _asked(before_incremental, "f1")

    built = _warehouse(
        tmp_path / "built.duckdb",
        *STATE,
        f"insert into intermediate.ltv_build_state values ('{project_unit('f1')}', null)",
    )
    assert _asked(built, "f1") is None
    assert "project changed" in _asked(built, "f2")
