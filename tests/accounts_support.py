"""Two generated ThriveCart accounts for the tests of LTV_ACCOUNTS (tests/test_accounts.py,
tests/test_ltv_run_spark.py): their settings, their sellers, and whose rows a snapshot holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipeline.demo import generate_seller
from pipeline.demo.truth import load_truth
from pipeline.settings import Settings, load_settings
from pipeline.sidecar.replay import replay_to_log

ACCOUNTS = {"alpha": ("alpha-secret", 7), "beta-eu": ("beta-secret", 8)}
CUSTOMERS = 25


def with_accounts(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's settings (pipeline_settings) with the two accounts, in the environment as
    the CLI reads it."""
    monkeypatch.setenv("LTV_ACCOUNTS", ",".join(ACCOUNTS))
    secrets = ",".join(f"{account}:{secret}" for account, (secret, _) in ACCOUNTS.items())
    monkeypatch.setenv("THRIVECART_SECRET", secrets)
    return load_settings()


def seed_account(settings: Settings, account: str) -> dict[str, Any]:
    """A demo seller of `account` in its landing folder, its deliveries in its webhook log."""
    secret, seed = ACCOUNTS[account]
    pipeline = settings.for_account(account)
    generate_seller(
        pipeline.landing_dir, CUSTOMERS, seed, account=account, secret=secret, workers=2
    )
    deliveries = pipeline.landing_dir / "_demo" / "deliveries.jsonl"
    summary = replay_to_log(deliveries, pipeline.webhooks_dir, {account: secret})
    assert summary.accepted == summary.sent, summary.describe()
    return load_truth(pipeline.landing_dir)


def published_accounts(snapshot: Path) -> set[str]:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        return {
            row[0] for row in con.execute("select distinct account from fct_payments").fetchall()
        }
