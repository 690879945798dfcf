"""Several ThriveCart accounts kept apart (LTV_ACCOUNTS): one pipeline each, in one Dagster
code location and one `ltv run`, every account's marts equal to its own truth.json."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from accounts_support import (
    ACCOUNTS,
    CUSTOMERS,
    published_accounts,
    seed_account,
    with_accounts,
)
from click.testing import CliRunner
from e2e_support import (
    drop_file,
    net_by_currency,
    running_stack,
    truth_net_by_currency,
    wait_for_snapshot,
)
from test_dbt_support import aggregate_mismatches, customer_mismatches

from pipeline.cli import main
from pipeline.definitions import build_definitions
from pipeline.demo import generate_seller
from pipeline.demo.truth import load_truth
from pipeline.run.lock import lock_path, run_lock
from pipeline.settings import Settings, load_settings
from pipeline.sidecar.replay import replay_to_url

# A stack's runs may sit idle this long before the wait fails (as in test_e2e_pipeline).
STACK_IDLE_SECONDS = 300.0


@pytest.fixture
def accounts(pipeline_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's settings with two accounts, in the environment as the CLI reads it."""
    return with_accounts(monkeypatch)


def test_each_accounts_dagster_objects_are_its_own() -> None:
    settings = load_settings({"LTV_ACCOUNTS": "alpha,beta-eu", "THRIVECART_SECRET": "x"})
    definitions = build_definitions(settings)
    dg.Definitions.validate_loadable(definitions)
    repo = definitions.get_repository_def()
    keys = repo.asset_graph.get_all_asset_keys()
    by_account = {a: {k for k in keys if k.path[0] == a} for a in ("alpha", "beta-eu")}
    assert by_account["alpha"] | by_account["beta-eu"] == keys
    single = build_definitions(load_settings({})).resolve_asset_graph().get_all_asset_keys()
    for own in by_account.values():
        assert {tuple(k.path[1:]) for k in own} == {tuple(k.path) for k in single}
    assert dg.AssetKey(["beta-eu", "marts", "fct_payments"]) in keys
    pools = {a.op.pool for a in repo.assets_defs_by_key.values() if a.op.pool}
    assert pools == {"alpha__duckdb_warehouse", "beta_eu__duckdb_warehouse"}
    build = repo.get_job("beta_eu__build_marts")
    assert {k.path[0] for k in build.asset_layer.executable_asset_keys} == {"beta-eu"}
    assert {s.name for s in repo.sensor_defs} == {
        f"{prefix}__{sensor}"
        for prefix in ("alpha", "beta_eu")
        for sensor in (
            "landing_files_sensor",
            "landing_removals_sensor",
            "marts_build_sensor",
            "webhook_log_sensor",
        )
    }


def test_each_accounts_sensors_watch_its_own_folders(
    accounts: Settings, ephemeral_instance: dg.DagsterInstance, settle
) -> None:
    from pipeline.defs.pipeline_defs import pipeline_defs
    from pipeline.defs.scope import Scope

    seed_account(accounts, "beta-eu")
    settle(accounts.landing_dir)
    context = dg.build_sensor_context(instance=ephemeral_instance, resources={"settings": accounts})
    alpha, beta = (pipeline_defs(Scope(a)) for a in ACCOUNTS)
    assert alpha.automation.webhook_log_sensor(context).run_requests == []
    assert alpha.landing_files_sensor(context).run_requests == []
    (webhooks,) = beta.automation.webhook_log_sensor(context).run_requests
    assert webhooks.job_name == "beta_eu__load_webhooks_and_build"
    files = beta.landing_files_sensor(context).run_requests
    assert len(files) == 11
    assert {r.job_name for r in files} <= {job.name for job in beta.ingest.landing_jobs.values()}


def table_rows(con: duckdb.DuckDBPyConnection, by_account: bool) -> dict[Any, int]:
    """Rows of every table that has some, per table or per (account, table)."""
    counts: dict[Any, int] = {}
    for (table,) in con.execute("select table_name from duckdb_tables()").fetchall():
        group = "account" if by_account else "null"
        rows = con.execute(f'select {group}, count(*) from "{table}" group by 1').fetchall()
        counts.update({(account, table) if by_account else table: n for account, n in rows})
    return counts


def test_ltv_run_builds_every_account_apart_and_one_account_never_stops_another(
    accounts: Settings, settle
) -> None:
    truths = {account: seed_account(accounts, account) for account in ACCOUNTS}
    alpha, beta = (accounts.for_account(a) for a in ACCOUNTS)
    (alpha.landing_dir / "orders" / "notes.csv").write_text("this is,not a\nThriveCart,export\n")
    stray = accounts.landing_dir / "orders" / "export.csv"
    stray.parent.mkdir()
    stray.write_text("order_id\n1\n")
    settle(accounts.landing_dir)

    first = CliRunner().invoke(main, ["run"])

    assert first.exit_code == 1, first.output  # alpha's bad file; beta's run went on
    assert first.output.index("account alpha:") < first.output.index("account beta-eu:")
    assert first.output.count("files loaded: 11") == 2
    assert (alpha.rejected_dir / "notes.csv.error.txt").exists()
    assert "not loaded: orders/export.csv is in no account's folder" in first.output
    assert stray.exists()
    for pipeline in (alpha, beta):
        truth = truths[pipeline.account]
        with duckdb.connect(str(pipeline.warehouse), read_only=True) as con:
            assert customer_mismatches(con, truth) == []
            assert aggregate_mismatches(con, truth) == []
        assert published_accounts(pipeline.marts_snapshot) == {pipeline.account}
        assert pipeline.marts_snapshot.with_name("ltv_report.html").is_file()

    # Every account together in LTV_MARTS_SNAPSHOT, `account` in every table.
    with duckdb.connect(str(accounts.marts_snapshot), read_only=True) as shared:
        tables = table_rows(shared, by_account=True)
        without_account = shared.execute(
            """select table_name from duckdb_tables() anti join
               (select table_name from duckdb_columns() where column_name = 'account') using
               (table_name)"""
        ).fetchall()
    assert without_account == []
    for pipeline in (alpha, beta):
        with duckdb.connect(str(pipeline.marts_snapshot), read_only=True) as own:
            rows = table_rows(own, by_account=False)
        assert {t: n for (a, t), n in tables.items() if a == pipeline.account} == rows
    assert {"ltv_cohorts_monthly", "customer_ltv_forecast"} <= {t for _, t in tables}

    # alpha is busy elsewhere: its run is refused, beta's still runs (nothing new for it).
    with run_lock(lock_path(alpha.warehouse)):
        busy = CliRunner().invoke(main, ["run"])
    assert busy.exit_code == 2, busy.output
    assert "another ltv run" in busy.output
    assert f"marts unchanged in {beta.marts_snapshot}" in busy.output

    stray.unlink()
    only_beta = CliRunner().invoke(main, ["run", "--account", "BETA-EU"])
    assert only_beta.exit_code == 0, only_beta.output
    assert "account alpha:" not in only_beta.output
    unknown = CliRunner().invoke(main, ["run", "--account", "gamma"])
    assert unknown.exit_code == 2 and "'gamma' is not in LTV_ACCOUNTS" in unknown.output


def test_make_run_stack_builds_each_accounts_marts_from_its_webhooks_and_exports(
    tmp_path: Path,
) -> None:
    """The sidecar and the daemon as `make run` starts them, with two accounts: deliveries of
    both through one webhook URL, exports in each account's folder, and each account's
    snapshot reaching its own truth.json."""
    sellers = {
        account: generate_seller(
            tmp_path / account, CUSTOMERS, seed, account=account, secret=secret, workers=2
        )
        for account, (secret, seed) in ACCOUNTS.items()
    }
    secrets = ",".join(f"{account}:{secret}" for account, (secret, _) in ACCOUNTS.items())
    services = ("sidecar", "dagster-daemon")
    env = {"LTV_ACCOUNTS": ",".join(ACCOUNTS), "THRIVECART_SECRET": secrets}
    with running_stack(tmp_path / "pipeline", services, **env) as stack:
        dropped_at = time.time()
        for account, seller in sellers.items():
            summary = replay_to_url(seller.out / "_demo" / "deliveries.jsonl", stack.webhook_url)
            assert summary.accepted == summary.sent, summary.describe()
            landing = stack.settings.for_account(account).landing_dir
            # The ThriveCart exports: net revenue needs no cost, spend or rate file.
            for folder in ("orders", "subscriptions"):
                for export in sorted((seller.out / folder).rglob("*.csv")):
                    drop_file(export, landing / export.relative_to(seller.out))
        for account, seller in sellers.items():
            snapshot = stack.settings.for_account(account).marts_snapshot
            want = truth_net_by_currency(load_truth(seller.out))
            got = wait_for_snapshot(
                stack,
                f"{account}'s snapshot to hold its truth.json net revenue per currency",
                lambda snapshot=snapshot, want=want: (
                    want if net_by_currency(snapshot) == want else None
                ),
                STACK_IDLE_SECONDS,
                since=dropped_at,
                last_seen=lambda snapshot=snapshot: net_by_currency(snapshot),
            )
            assert got == want
            assert published_accounts(snapshot) == {account}
