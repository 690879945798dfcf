"""`ltv run` with LTV_ENGINE=postgres on a throwaway server: a generated seller loaded, built
by dbt on PostgreSQL, published into schema `ltv` there and into the analysts' snapshot, each
equal to truth.json; then an incremental build on PostgreSQL; and a server that cannot be
reached fails the build with a clear message while the loads are kept."""

from __future__ import annotations

import uuid

import duckdb
import pytest
from click.testing import CliRunner
from postgres_support import Cluster
from test_dbt_support import generate_and_replay, truth_mismatches
from test_ltv_run import replay_first_delivery_again

from pipeline.cli import main
from pipeline.engines.postgres_raw import postgres_transaction
from pipeline.forecast import FORECAST_MARTS
from pipeline.publish import CONTRACT_MARTS
from pipeline.report.build import default_report_path
from pipeline.run.unchanged import published_build_id
from pipeline.settings import PostgresWarehouse, Settings, load_settings

CUSTOMERS = 40
SEED = 12


def _on_postgres(monkeypatch: pytest.MonkeyPatch, target: PostgresWarehouse) -> Settings:
    monkeypatch.setenv("LTV_ENGINE", "postgres")
    monkeypatch.setenv("LTV_WAREHOUSE", target.url)
    return load_settings()


def _published(target: PostgresWarehouse) -> tuple[set[str], str, bool, int]:
    """Schema ltv's tables, its build id, whether that build rebuilt all, and its payments."""
    with postgres_transaction(target) as cursor:
        cursor.execute(
            "select table_name from information_schema.tables where table_schema = 'ltv'"
        )
        tables = {name for (name,) in cursor.fetchall()}
        cursor.execute("select build_id, rebuilt_all from ltv.mart_metadata")
        build_id, rebuilt_all = cursor.fetchone()
        cursor.execute("select count(*) from ltv.fct_payments")
        payments = cursor.fetchone()[0]
    return tables, build_id, rebuilt_all, payments


def test_ltv_run_on_postgres_publishes_marts_equal_to_truth_there_and_in_the_snapshot(
    pipeline_settings: Settings,
    postgres_cluster: Cluster,
    monkeypatch: pytest.MonkeyPatch,
    settle,
) -> None:
    truth = generate_and_replay(pipeline_settings, CUSTOMERS, SEED)
    settle(pipeline_settings.landing_dir)
    target = postgres_cluster.create_database(f"ltv_{uuid.uuid4().hex[:8]}")
    settings = _on_postgres(monkeypatch, target)

    first = CliRunner().invoke(main, ["run"])

    assert first.exit_code == 0, first.output
    assert "files loaded: 11" in first.output
    tables, build_id, rebuilt_all, payments = _published(target)
    assert set(CONTRACT_MARTS) | set(FORECAST_MARTS) <= tables
    assert rebuilt_all
    assert payments == sum(total["payments"] for total in truth["totals"])
    assert published_build_id(settings.marts_snapshot) == build_id
    # The snapshot's file is marts.duckdb: the checks' `marts.<mart>` names read it as they
    # read a warehouse's schema.
    with duckdb.connect(str(settings.marts_snapshot), read_only=True) as snapshot:
        assert truth_mismatches(snapshot, truth) == []
        forecasts = snapshot.execute("select count(*) from customer_ltv_forecast").fetchone()
    assert forecasts[0] > 0
    assert default_report_path(settings).is_file()

    # A webhook delivered again: the next build on PostgreSQL patches, and changes nothing.
    replay_first_delivery_again(pipeline_settings, truth)
    again = CliRunner().invoke(main, ["run"])

    assert again.exit_code == 0, again.output
    _, second_build, rebuilt_all, second_payments = _published(target)
    assert second_build != build_id and not rebuilt_all
    assert second_payments == payments
    assert published_build_id(settings.marts_snapshot) == second_build


def test_a_postgres_server_out_of_reach_fails_the_build_and_keeps_the_loads(
    pipeline_settings: Settings,
    postgres_cluster: Cluster,
    monkeypatch: pytest.MonkeyPatch,
    settle,
) -> None:
    generate_and_replay(pipeline_settings, 5, SEED)
    settle(pipeline_settings.landing_dir)
    nowhere = PostgresWarehouse("127.0.0.1", postgres_cluster.port, "postgres", "not_created")
    settings = _on_postgres(monkeypatch, nowhere)

    result = CliRunner().invoke(main, ["run"])

    assert result.exit_code == 1, result.output
    assert "Cannot connect to the PostgreSQL warehouse" in result.output
    assert "not_created" in result.output and "LTV_WAREHOUSE" in result.output
    assert not settings.marts_snapshot.exists()
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        files = con.execute("select count(*) from raw.landing_files").fetchone()[0]
    assert files == 11
