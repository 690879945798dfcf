"""Spark for the tests: whether it can run here, and dbt on Spark in a process of its own.

dbt-spark's session mode starts Spark inside dbt's process, and a started Spark keeps its
storage path and table catalog for the life of that process. Each dbt command therefore runs
as `dbt` in a subprocess, as the pipeline runs it, never in the test's own process.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.dbt_command import project_args, vars_args
from pipeline.dbt_docs import dbt_executable
from pipeline.settings import Settings

# A first Spark build of a 250-customer seller takes about a minute on 2 cores.
DBT_TIMEOUT_S = 900


def spark_unavailable() -> str | None:
    """Why Spark cannot run here (no Java runtime), or None."""
    if shutil.which("java") is None:
        return "no Java runtime (java) on the PATH; scripts/ensure-java.sh installs one"
    return None


def skip_without_spark() -> None:
    if reason := spark_unavailable():
        pytest.skip(f"Spark unavailable: {reason}")


def run_dbt_on_spark(settings: Settings, *args: str) -> str:
    """`dbt <args>` on the settings' Spark storage in a subprocess; its output. Fails the test
    with the output's end when dbt fails."""
    assert settings.spark is not None
    work = settings.spark.storage.parent / f"dbt-spark-{args[0]}"
    done = subprocess.run(
        [
            dbt_executable(),
            *args,
            *vars_args(settings),
            *project_args(),
            *("--target-path", str(work / "target"), "--log-path", str(work / "logs")),
        ],
        capture_output=True,
        text=True,
        timeout=DBT_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"dbt {' '.join(args)} on Spark failed:\n{done.stdout[-6000:]}")
    return done.stdout


def storage_of(root: Path) -> Path:
    return root / "spark"
