"""The dbt resource skips dagster-dbt's `dbt --version` process and in-process adapter."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from packaging.version import Version

from pipeline.dbt_docs import dbt_executable
from pipeline.defs.dbt import dbt_resource
from pipeline.settings import Settings


def test_the_version_is_the_one_the_dbt_executable_reports(pipeline_settings: Settings) -> None:
    reported = subprocess.run(
        [dbt_executable(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    installed = re.search(r"installed:\s*(\d+\.\d+\.\d+)", reported)
    assert installed, reported
    assert dbt_resource()._cli_version == Version(installed.group(1))


def test_an_invocation_starts_no_second_dbt_and_no_adapter(
    tmp_path: Path, pipeline_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_subprocess(*args: object, **kwargs: object) -> bytes:
        raise AssertionError(f"dagster-dbt started a process of its own: {args}")

    monkeypatch.setattr("dagster_dbt.core.resource.check_output", no_subprocess)
    args = ["parse", "--vars", json.dumps(pipeline_settings.dbt_vars())]
    invocation = dbt_resource().cli(args, target_path=tmp_path / "target")
    invocation.wait()
    assert invocation.is_successful()
    assert invocation.adapter is None
    assert (tmp_path / "target" / "manifest.json").is_file()
