"""Fixtures shared by the test modules: an isolated pipeline environment per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from pipeline.settings import PROJECT_ROOT, Settings, load_settings


@pytest.fixture
def pipeline_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a fresh landing folder, warehouse and DAGSTER_HOME under `tmp_path`.

    They are also put in the environment, so code that calls `load_settings()` itself (assets,
    sensors, the CLI) sees the same paths.
    """
    env = {
        "LTV_LANDING_DIR": tmp_path / "landing",
        "LTV_WAREHOUSE": tmp_path / "warehouse" / "ltv.duckdb",
        "LTV_MARTS_SNAPSHOT": tmp_path / "warehouse" / "marts.duckdb",
        "DAGSTER_HOME": tmp_path / "dagster_home",
        "LTV_ARCHIVE_DIR": "",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    settings = load_settings()
    settings.landing_dir.mkdir(parents=True)
    return settings


@pytest.fixture
def dagster_instance(pipeline_settings: Settings) -> Iterator[dg.DagsterInstance]:
    """A persistent Dagster instance in the test's DAGSTER_HOME, configured by the same
    `pipeline/dagster.yaml` that `ltv up` installs (the single-writer pool)."""
    home = pipeline_settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "pipeline" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance
