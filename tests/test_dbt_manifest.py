"""The manifest prepared in set-up: builds with the same settings reparse nothing, and dbt
sends nothing home."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from dbt.cli.main import dbtRunner

from pipeline.dbt_command import project_args, vars_args
from pipeline.dbt_docs import dbt_executable
from pipeline.dbt_manifest import prepare_manifest
from pipeline.settings import Settings


def test_a_build_with_the_same_settings_parses_partially(
    tmp_path: Path, pipeline_settings: Settings
) -> None:
    prepared, build = tmp_path / "prepared", tmp_path / "build"
    prepare_manifest(prepared)
    build.mkdir()
    # What dagster-dbt does for every build: a fresh target folder seeded with the saved state.
    shutil.copy(prepared / "partial_parse.msgpack", build)
    args = [*project_args(), *vars_args(pipeline_settings), "--target-path", str(build)]
    result = dbtRunner().invoke(["parse", *args])
    assert result.success, result.exception
    perf = json.loads((build / "perf_info.json").read_text())
    assert perf["is_partial_parse_enabled"] and perf["parsed_path_count"] == 0, perf


def test_dbt_sends_no_usage_events(tmp_path: Path, pipeline_settings: Settings) -> None:
    """dbt's own debug log names every usage event it sends (`Sending event: …`)."""
    args = [*project_args(), *vars_args(pipeline_settings), "--target-path", str(tmp_path)]
    done = subprocess.run(
        [dbt_executable(), "--debug", "parse", *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "'send_anonymous_usage_stats': 'False'" in done.stdout
    assert "Sending event" not in done.stdout
