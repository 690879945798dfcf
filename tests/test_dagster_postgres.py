"""DAGSTER_POSTGRES_URL: runs, events and the warehouse pool live in PostgreSQL, on a real
server (the throwaway cluster of tests/postgres_support.py), so the webserver, the daemon and
the runs need not share a disk."""

from __future__ import annotations

import dataclasses
import uuid

import dagster as dg
import psycopg2
import pytest
from postgres_support import Cluster

from pipeline.demo import SellerSummary
from pipeline.instance import dagster_instance
from pipeline.run.driver import ingest_pending
from pipeline.settings import Settings, SettingsError, load_settings


def test_loads_record_their_runs_and_materializations_in_postgres(
    pipeline_settings: Settings, demo_landing: SellerSummary, postgres_cluster: Cluster
) -> None:
    database = postgres_cluster.create_database(f"dagster_{uuid.uuid4().hex[:8]}")
    settings = dataclasses.replace(pipeline_settings, dagster_postgres=database)

    instance = dagster_instance(settings)
    results = ingest_pending(instance, settings)

    assert results and all(result.success for result in results)
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert not list(settings.dagster_home.glob("**/*.db")), "SQLite storage was created too"
    con = psycopg2.connect(**database.connect_kwargs())
    try:
        with con.cursor() as cursor:
            cursor.execute("select count(*) from runs where status = 'SUCCESS'")
            assert cursor.fetchone()[0] == len(results)
            cursor.execute(
                "select count(distinct run_id) from event_logs "
                "where dagster_event_type = 'ASSET_MATERIALIZATION'"
            )
            assert cursor.fetchone()[0] == len(results)
    finally:
        con.close()
    # Another process (here: another instance from the same home) sees the same history.
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as other:
        assert {r.run_id for r in other.get_runs()} == {r.run_id for r in results}
        assert other.get_concurrency_config().pool_config.default_pool_limit == 1


def test_a_password_in_the_url_is_refused_with_where_it_goes() -> None:
    with pytest.raises(SettingsError, match=r"DAGSTER_POSTGRES_URL holds a password.*pgpass"):
        load_settings({"DAGSTER_POSTGRES_URL": "postgresql://ltv:secret@db:5432/dagster"})
    settings = load_settings({"DAGSTER_POSTGRES_URL": "postgresql://ltv@db/dagster"})
    assert settings.dagster_postgres is not None
    assert settings.dagster_postgres.url == "postgresql://ltv@db:5432/dagster"
