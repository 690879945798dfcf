"""Prepare the dbt manifest that dagster-dbt reads when the code location loads.

`DbtProject.prepare_if_dev()` only parses under `dagster dev`; the webserver, the daemon,
pytest and CI need `target/manifest.json` to exist already, so set-up runs this module.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.dbt_command import project_args, vars_args
from pipeline.settings import load_settings


def prepare_manifest(target_dir: Path | None = None) -> None:
    """Run `dbt parse` against the project with the live settings; raise if it fails.

    The vars are the ones every build passes, so builds parse partially from the saved state
    instead of parsing the whole project again (dbt starts over when vars differ). The
    manifest goes to the project's `target/` unless `target_dir` says otherwise.
    """
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(
        [
            "parse",
            *project_args(),
            *vars_args(load_settings()),
            "--quiet",
            *(["--target-path", str(target_dir)] if target_dir else []),
        ]
    )
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")


if __name__ == "__main__":
    prepare_manifest()
    sys.exit(0)
