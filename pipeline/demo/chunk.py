"""One chunk of customers, simulated and rendered into part files.

Chunks are independent (each customer has its own random generator), so they can run in worker
processes; the parts are joined in chunk order, which makes the output the same byte for byte
whatever the number of workers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.demo.cost_inputs import DEMO_REPORTING_CURRENCY, cost_inputs
from pipeline.demo.csv_export import ExportRows
from pipeline.demo.deliveries import delivery_lines, plan_deliveries
from pipeline.demo.events import Checkout, History, Refund
from pipeline.demo.margin_truth import MoneyRules
from pipeline.demo.simulate import TEST_ORDER_EVERY, simulate_customer, simulate_test_order
from pipeline.demo.subscription_truth import subscriptions_line
from pipeline.demo.timeline import SUBSCRIPTION_EXPORT_DELAYS
from pipeline.demo.truth import TruthTotals, customer_entries, observe
from pipeline.demo.webhook_bodies import WebhookBodies
from pipeline.demo.world import SellerPlan, World, world_for

TEXT_PARTS = ("latest", "older", "recurring", "limited", "customers", "subscriptions")
LATEST_REFUND_SIGN, OLDER_REFUND_SIGN = -1, 1  # one sign per export, both signs across them
_CUSTOMER_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps(…) would build one per call


@dataclass
class ChunkResult:
    number: int
    customers: int
    parts: dict[str, Path]
    rows: dict[str, int] = field(default_factory=dict)
    totals: TruthTotals = field(default_factory=TruthTotals)


def part_path(workdir: Path, number: int, name: str) -> Path:
    return workdir / f"{number:07d}.{name}"


def _transaction_rows(
    world: World, history: History, rows: ExportRows, out: dict[str, list[str]]
) -> None:
    """Append the customer's rows of both Transactions exports to `out`."""
    timeline = world.timeline
    latest_at, older_at = timeline.latest_export_at, timeline.older_export_at
    latest, older = out["latest"], out["older"]
    rows.start_customer()
    for event in history.events:
        if event.at > latest_at:
            break
        latest_rows = rows.rows(event, LATEST_REFUND_SIGN)
        latest += latest_rows
        if event.at <= older_at:
            # Only refund rows differ between the exports (their sign).
            older += (
                rows.rows(event, OLDER_REFUND_SIGN) if isinstance(event, Refund) else latest_rows
            )


def _subscription_rows(
    world: World, history: History, rows: ExportRows, out: dict[str, list[str]]
) -> None:
    """One row per subscription started before the download, in its state at the download.

    After `_transaction_rows` for the same customer, whose rendered orders `rows` reuses."""
    exported_at = world.timeline.latest_export_at
    for event in history.events:
        if not isinstance(event, Checkout) or event.at > exported_at:
            continue
        for item in event.order.items:
            sub = item.subscription
            if sub is not None:
                at = exported_at + SUBSCRIPTION_EXPORT_DELAYS[sub.kind]
                out[sub.kind].append(rows.subscription_row(sub, at))


def _write_part(path: Path, lines: list[str]) -> None:
    """The chunk's lines, kept in memory until now (a few MB), encoded and written at once:
    a text file's `writelines` encodes line by line."""
    path.write_bytes("".join(lines).encode())


def run_chunk(plan: SellerPlan, number: int, first: int, stop: int, workdir: Path) -> ChunkResult:
    """Customers `first` … `stop - 1` into part files in `workdir`."""
    world = world_for(plan)
    result = ChunkResult(number, stop - first, {})
    out: dict[str, list[str]] = {name: [] for name in (*TEXT_PARTS, "deliveries")}
    deliveries = out["deliveries"]
    rows, bodies = ExportRows(world), WebhookBodies(world)
    account = plan.account.lower()
    money = MoneyRules.of(cost_inputs(world), DEMO_REPORTING_CURRENCY)
    for index in range(first, stop):
        history = simulate_customer(world, index)
        plan_deliveries(world, history)
        _transaction_rows(world, history, rows, out)
        _subscription_rows(world, history, rows, out)
        deliveries += delivery_lines(bodies, index, history.events)
        seen = observe(history.events, world.timeline)
        for entry in customer_entries(seen, result.totals, account, money):
            out["customers"].append(_CUSTOMER_JSON.encode(entry) + "\n")
        if seen.subscriptions:
            out["subscriptions"].append(subscriptions_line(seen.subscriptions))
        if index % TEST_ORDER_EVERY == 0:
            test = simulate_test_order(world, index // TEST_ORDER_EVERY)
            plan_deliveries(world, test)
            deliveries += delivery_lines(bodies, test.index, test.events, stream=1)
    deliveries.sort()  # a sorted run, for the merge
    result.rows = {name: len(out[name]) for name in (*TEXT_PARTS[:4], "deliveries")}
    result.parts = {name: part_path(workdir, number, name) for name in out}
    for name, lines in out.items():
        _write_part(result.parts[name], lines)
    return result
