"""What a dbt build leaves for what comes after it, kept per warehouse beside the warehouse file.

dagster-dbt gives every build a target folder of its own and we prune the old ones, so two files
are copied out when a build ends:
- `manifest.json`, with the build's compiled SQL: the docs page is made from it
  (pipeline/dbt_docs.py);
- `partial_parse.msgpack`, dbt's parsed project: copied into the next build's target folder, so
  dbt parses only what changed (~3 s of start-up instead of ~6.5 s). dagster-dbt would seed it
  from `dbt_project/target`, parsed with the settings `make setup` saw; a warehouse built with
  other settings (other vars) would make dbt parse the whole project at every build. dbt checks
  the state itself (project files, vars, profile, its version) and parses afresh when it does
  not fit.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.files import write_atomically
from pipeline.settings import Settings

MANIFEST = "manifest.json"
PARSE_STATE = "partial_parse.msgpack"


def kept_dir(settings: Settings) -> Path:
    """The folder beside the warehouse file holding the last finished build's files."""
    return settings.warehouse.with_name(f".{settings.warehouse.stem}.dbt-build")


def build_manifest_path(settings: Settings) -> Path:
    return kept_dir(settings) / MANIFEST


def keep_build_files(settings: Settings, target_path: Path) -> None:
    """Keep the manifest and the parse state a build just wrote into `target_path`."""
    kept = kept_dir(settings)
    kept.mkdir(parents=True, exist_ok=True)
    for name in (MANIFEST, PARSE_STATE):
        if (target_path / name).is_file():
            write_atomically(kept / name, (target_path / name).read_bytes())


def seed_parse_state(settings: Settings, target_path: Path) -> None:
    """Put the last build's parse state into a new build's target folder before dbt starts
    (nothing before this warehouse's first build: dagster-dbt then seeds set-up's)."""
    kept = kept_dir(settings) / PARSE_STATE
    if kept.is_file():
        target_path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(kept, target_path / PARSE_STATE)
