"""The persistent Dagster instance every entry point shares (DAGSTER_HOME)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from pipeline.files import write_atomically
from pipeline.settings import PostgresWarehouse, Settings

DAGSTER_YAML_TEMPLATE = Path(__file__).with_name("dagster.yaml")


def install_dagster_yaml(settings: Settings) -> None:
    """Install our instance config (the single-writer pool) into DAGSTER_HOME, and point this
    process at it.

    The file is ours: it is rewritten on every start so an upgrade takes effect; run history,
    cursors and partitions beside it are kept.
    """
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    config = DAGSTER_YAML_TEMPLATE.read_text(encoding="utf-8")
    if settings.dagster_postgres is not None:
        config += postgres_storage_yaml(settings.dagster_postgres)
    write_atomically(settings.dagster_home / "dagster.yaml", config.encode())
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)


def prepare_dagster_home(settings: Settings) -> None:
    """Install the config and create the instance's storage (SQLite files, or the tables in
    PostgreSQL) now, once, before the processes that share it start: a daemon and a webserver
    started together would both create it and leave two schema heads behind."""
    install_dagster_yaml(settings)
    with dg.DagsterInstance.from_config(str(settings.dagster_home)):
        pass


def postgres_storage_yaml(database: PostgresWarehouse) -> str:
    """The instance's `storage` section for runs, events and schedules in PostgreSQL.

    The URL has no password (Settings refuses one): libpq reads it from ~/.pgpass or
    PGPASSWORD in every process that opens the instance, so the file holds no secret.
    SQLAlchemy 2.1 takes a bare postgresql:// for psycopg 3; the pinned driver is psycopg2.
    """
    url = database.url.replace("postgresql://", "postgresql+psycopg2://", 1)
    return (
        "\n# DAGSTER_POSTGRES_URL: runs, events and schedules in PostgreSQL (dagster-postgres),\n"
        "# so the webserver, the daemon and the runs may be on different machines.\n"
        f"storage:\n  postgres:\n    postgres_url: {json.dumps(url)}\n"
    )


def dagster_instance(settings: Settings) -> dg.DagsterInstance:
    """The instance the webserver and daemon use, so one-shot runs show up in the UI. Opening
    it creates its storage when missing (one process: nothing to race with)."""
    install_dagster_yaml(settings)
    return dg.DagsterInstance.get()
