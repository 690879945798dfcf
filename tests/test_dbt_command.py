"""The dbt command lines: a pure function of the settings, and the profile follows them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dbt.cli.main import dbtRunner

from pipeline.dbt_command import build_args, project_args, vars_args
from pipeline.dbt_state import project_fingerprint
from pipeline.settings import load_settings


def _vars_of(args: list[str]) -> dict[str, object]:
    return json.loads(args[args.index("--vars") + 1])


def test_a_build_runs_every_model_and_data_test_with_the_settings_as_vars(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "LTV_WAREHOUSE": str(tmp_path / "w.duckdb"),
            "LTV_TIMEZONE": "Europe/Berlin",
            "LTV_DAY_N": "30,7",
            "LTV_MEMORY_LIMIT": "1GB",
        }
    )
    args = build_args(settings)

    assert args[0] == "build"
    assert args[args.index("--exclude") + 1] == "resource_type:unit_test"
    assert args[args.index("--log-level-file") + 1] == "none"
    assert _vars_of(args) == {
        **settings.dbt_vars(),
        "ltv_project_fingerprint": project_fingerprint(),
    }
    assert "--full-refresh" not in args
    assert "--full-refresh" in build_args(settings, full_refresh=True)
    assert _vars_of(args)["ltv_warehouse"] == str(tmp_path / "w.duckdb")
    assert _vars_of(args)["ltv_memory_limit"] == "1GB"
    assert _vars_of(args)["ltv_timezone"] == "Europe/Berlin"
    assert _vars_of(args)["day_n"] == [7, 30]


def test_the_profile_connects_to_the_warehouse_in_the_vars_not_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LTV_WAREHOUSE", str(tmp_path / "from-environment.duckdb"))
    settings = load_settings({"LTV_WAREHOUSE": str(tmp_path / "from-settings.duckdb")})
    logs = ["--log-path", str(tmp_path / "logs")]

    result = dbtRunner().invoke(["debug", *project_args(), *vars_args(settings), *logs])

    assert result.success, result.exception
    assert (tmp_path / "from-settings.duckdb").is_file()
    assert not (tmp_path / "from-environment.duckdb").exists()
