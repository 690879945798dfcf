"""The dbt command lines the pipeline runs, as pure functions of the settings.

Every setting dbt needs travels on the command line (`--vars`, see `Settings.dbt_vars()`), so a
dbt process sees exactly the settings of the caller and nothing is put into the environment.
"""

from __future__ import annotations

import json

from pipeline.dbt_state import project_fingerprint
from pipeline.settings import DBT_PROJECT_DIR, Settings


def vars_args(settings: Settings) -> list[str]:
    """`--vars` with every value the models and the profile read, and the project's fingerprint
    for the incremental state (pipeline/dbt_state.py)."""
    values = {**settings.dbt_vars(), "ltv_project_fingerprint": project_fingerprint()}
    return ["--vars", json.dumps(values)]


def project_args() -> list[str]:
    """Where the project and its profile are, for a dbt started outside the project folder."""
    return ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]


def build_args(settings: Settings, full_refresh: bool = False) -> list[str]:
    """`dbt build` as every marts build runs it: every model with its data tests, incremental
    models patched unless `full_refresh` rebuilds them from raw.

    Unit tests check the SQL, not the data, so they run in the test suite, not per build. dbt's
    own log file costs a sixth of a small build's CPU; every event it would hold also reaches
    the run's captured output through dagster-dbt.
    """
    return [
        "build",
        *("--exclude", "resource_type:unit_test"),
        *vars_args(settings),
        *("--log-level-file", "none"),
        *(["--full-refresh"] if full_refresh else []),
    ]
