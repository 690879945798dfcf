"""The persistent Dagster instance every entry point shares (DAGSTER_HOME)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg

from pipeline.settings import Settings

DAGSTER_YAML_TEMPLATE = Path(__file__).with_name("dagster.yaml")


def prepare_dagster_home(settings: Settings) -> None:
    """Install our instance config (the single-writer pool) into DAGSTER_HOME.

    The file is ours: it is rewritten on every start so an upgrade takes effect; run history,
    cursors and partitions beside it are kept.
    """
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DAGSTER_YAML_TEMPLATE, settings.dagster_home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    # Opening the instance creates its SQLite storage now, once: a daemon and a webserver started
    # together on a fresh home would both create it and leave two schema heads behind.
    with dg.DagsterInstance.from_config(str(settings.dagster_home)):
        pass


def dagster_instance(settings: Settings) -> dg.DagsterInstance:
    """The instance the webserver and daemon use, so one-shot runs show up in the UI."""
    prepare_dagster_home(settings)
    return dg.DagsterInstance.get()
