"""The docs page is regenerated only when what it is made from changed.

dbt itself is replaced by a stand-in that writes a page and counts its runs; the real
`dbt docs generate` runs in the browser and end-to-end tests.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from pipeline import dbt_docs
from pipeline.settings import Settings


@pytest.fixture
def dbt_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every argv the docs module passed to dbt; each run writes a page naming its number."""
    runs: list[list[str]] = []

    def fake_dbt(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        runs.append(argv)
        target = Path(argv[argv.index("--target-path") + 1])
        target.mkdir(parents=True, exist_ok=True)
        (target / "static_index.html").write_text(f"docs run {len(runs)}")
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(dbt_docs.subprocess, "run", fake_dbt)
    return runs


def test_docs_are_made_once_per_project_and_settings(
    pipeline_settings: Settings, dbt_runs: list[list[str]]
) -> None:
    path, regenerated = dbt_docs.write_dbt_docs(pipeline_settings)
    assert regenerated and path.read_text() == "docs run 1"

    assert dbt_docs.write_dbt_docs(pipeline_settings) == (path, False)
    assert len(dbt_runs) == 1 and path.read_text() == "docs run 1"

    other_day_n = dataclasses.replace(pipeline_settings, day_n=(0, 30))
    assert dbt_docs.write_dbt_docs(other_day_n) == (path, True)
    assert path.read_text() == "docs run 2"
    assert '"day_n": [0, 30]' in dbt_runs[-1][dbt_runs[-1].index("--vars") + 1]


def test_a_deleted_page_is_made_again(
    pipeline_settings: Settings, dbt_runs: list[list[str]]
) -> None:
    path, _ = dbt_docs.write_dbt_docs(pipeline_settings)
    path.unlink()
    assert dbt_docs.write_dbt_docs(pipeline_settings) == (path, True)
    assert path.read_text() == "docs run 2"


def test_the_fingerprint_covers_the_project_files(
    pipeline_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project = tmp_path / "dbt_project"
    (project / "models").mkdir(parents=True)
    (project / "target").mkdir()
    model = project / "models" / "m.sql"
    model.write_text("select 1")
    monkeypatch.setattr(dbt_docs, "DBT_PROJECT_DIR", project)
    before = dbt_docs.docs_fingerprint(pipeline_settings)

    (project / "target" / "manifest.json").write_text("{}")  # dbt's output, not a source
    assert dbt_docs.docs_fingerprint(pipeline_settings) == before
    model.write_text("select 2")
    assert dbt_docs.docs_fingerprint(pipeline_settings) != before
