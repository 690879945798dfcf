"""Every Python and SQL example in README.md runs against a built demo seller, so the examples
can never rot: a renamed column, a missing dependency or a wrong path fails here."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from test_dbt_support import built_once, generate_and_replay, load_landing, run_dbt, settings_for

from pipeline.forecast.write import write_forecast
from pipeline.publish import publish_snapshot
from pipeline.settings import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
# A SQL example whose first line says so runs on the warehouse; every other one on the snapshot.
ON_THE_WAREHOUSE = "in the warehouse"


def blocks(language: str) -> list[str]:
    found = [code for lang, code in BLOCK.findall(README.read_text()) if lang == language]
    assert found, f"README.md has no {language} example"
    return found


def _build(root: Path) -> None:
    settings = settings_for(root)
    generate_and_replay(settings, customers=60, seed=21)
    load_landing(settings)
    run_dbt(settings, "build", "--exclude", "resource_type:unit_test")
    write_forecast(settings)
    publish_snapshot(settings)


@pytest.fixture(scope="module")
def seller_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder laid out like the project's: `warehouse/ltv.duckdb`, `warehouse/marts.duckdb`
    and the Parquet copies, built from a demo seller."""
    with built_once(tmp_path_factory, "readme-seller", _build) as root:
        yield root


@pytest.mark.parametrize("code", blocks("python"), ids=lambda code: code.splitlines()[0][:40])
def test_python_examples_run(seller_root: Path, code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=seller_root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{code}\n---\n{done.stderr}"


@pytest.mark.parametrize("code", blocks("sql"), ids=lambda code: code.splitlines()[0][:40])
def test_sql_examples_run(seller_root: Path, code: str) -> None:
    database = "ltv.duckdb" if ON_THE_WAREHOUSE in code.splitlines()[0] else "marts.duckdb"
    with duckdb.connect(str(seller_root / "warehouse" / database), read_only=True) as con:
        try:
            # DuckDB's parser splits the statements: a comment may hold a semicolon.
            for statement in con.extract_statements(code):
                con.execute(statement).fetchall()
        except duckdb.Error as exc:
            pytest.fail(f"{code}\n---\n{exc}")
