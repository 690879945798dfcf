"""End to end, as `make run` runs it: webhooks and exports reach the published marts by
themselves (sensors -> raw -> automation -> dbt -> publish), with nobody clicking anything.

The sidecar, `dagster-daemon` and `dagster-webserver` run as separate processes on free
loopback ports, against a temporary landing folder, warehouse, snapshot and DAGSTER_HOME. The
test plays ThriveCart and the seller: it POSTs a generated seller's webhook deliveries to the
sidecar, waits until the snapshot holds exactly those payments, then drops the seller's
exports into the landing folder and waits until the marts equal the generator's truth.json.

It takes minutes, not seconds: every sensor tick, automation tick and run is a real one.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest
from e2e_support import (
    SECRET,
    PaymentTotals,
    Stalled,
    Timeout,
    drop_file,
    net_by_currency,
    query_snapshot,
    running_stack,
    snapshot_customer_net,
    snapshot_payment_totals,
    truth_customer_net,
    truth_net_by_currency,
    wait_for_snapshot,
    webhook_log_records,
    webhook_payment_totals,
)

from pipeline.demo import generate_seller, load_truth
from pipeline.sidecar.replay import count_deliveries, replay_to_url

CUSTOMERS = 30
SEED = 5
# Bounds, not expectations: each phase is ~2 sensor/automation ticks plus a dozen runs, about
# a minute or two on a quiet 2-core machine. A phase fails when no run has finished for this
# long (a build is the longest run), and a loaded machine that keeps finishing runs gets up to
# three times this in all.
PHASE_IDLE_SECONDS = 300.0


def test_webhooks_then_exports_reach_the_published_marts(
    tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    seller = generate_seller(tmp_path / "seller", CUSTOMERS, seed=SEED, secret=SECRET)
    truth = load_truth(seller.out)
    deliveries = seller.out / "_demo" / "deliveries.jsonl"

    with running_stack(tmp_path / "pipeline") as stack:
        snapshot = stack.settings.marts_snapshot

        # 1. ThriveCart posts its webhooks; nothing else has happened yet.
        posted_at = time.time()
        summary = replay_to_url(deliveries, stack.webhook_url)
        assert summary.accepted == count_deliveries(deliveries), summary.describe()
        expected = webhook_payment_totals(webhook_log_records(stack.settings.webhooks_dir))
        assert {kind for _, kind in expected} == {"charge", "rebill", "refund"}, expected

        def webhook_payments_published() -> PaymentTotals | None:
            got = snapshot_payment_totals(snapshot)
            return got if got == expected else None

        # A failure here is reported at the end, so the exports' phase is still checked.
        webhooks_alone_failure: str | None = None
        try:
            got = wait_for_snapshot(
                stack,
                "the snapshot's fct_payments to hold exactly the webhooks' payments",
                webhook_payments_published,
                PHASE_IDLE_SECONDS,
                since=posted_at,
                last_seen=lambda: f"{snapshot_payment_totals(snapshot)}\nwant {expected}",
            )
            assert got == expected
            seconds = time.time() - posted_at
            record_property("seconds_from_webhooks_to_snapshot", round(seconds))
            print(f"webhooks -> published snapshot: {seconds:.0f} s")
        except (Timeout, Stalled) as exc:
            webhooks_alone_failure = f"webhooks alone did not reach the snapshot: {exc}"
            print(f"{webhooks_alone_failure}\n(checking the exports' phase anyway)")

        # 2. The seller drops the exports (Transactions and Subscriptions) and the cost, ad
        # spend and rate files into the landing folder.
        dropped_at = time.time()
        exports = sorted(p for p in seller.out.rglob("*.csv") if "_demo" not in p.parts)
        assert len(exports) == 11, exports
        for export in exports:
            drop_file(export, stack.settings.landing_dir / export.relative_to(seller.out))

        want_net = truth_net_by_currency(truth)

        def truth_published() -> dict[str, Decimal] | None:
            got = net_by_currency(snapshot)
            return got if got == want_net else None

        got_net = wait_for_snapshot(
            stack,
            "the snapshot's customer net revenue per currency to equal truth.json",
            truth_published,
            PHASE_IDLE_SECONDS,
            since=dropped_at,
            last_seen=lambda: f"{net_by_currency(snapshot)}\nwant {want_net}",
        )
        seconds = time.time() - dropped_at
        record_property("seconds_from_exports_to_snapshot", round(seconds))
        print(f"exports -> published snapshot: {seconds:.0f} s")

        assert got_net == want_net
        assert sum(want_net.values()) > Decimal(0)
        assert snapshot_customer_net(snapshot) == truth_customer_net(truth)
        margins = query_snapshot(snapshot, "select sum(net_margin) from dim_customers")
        assert margins == [(sum(c["net_margin"] for c in truth["customers"]),)]
        # The marts now hold more than the webhooks alone: the exports reached them.
        assert snapshot_payment_totals(snapshot) != expected

    assert webhooks_alone_failure is None, webhooks_alone_failure
