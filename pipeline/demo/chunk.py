"""One chunk of customers, simulated and rendered into part files.

Chunks are independent (each customer has its own random generator), so they can run in worker
processes; the parts are joined in chunk order, which makes the output the same byte for byte
whatever the number of workers.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from pipeline.demo.csv_export import TransactionRows, subscription_row
from pipeline.demo.deliveries import delivery_lines, plan_deliveries, write_run
from pipeline.demo.events import Checkout, History, Refund
from pipeline.demo.simulate import TEST_ORDER_EVERY, simulate_customer, simulate_test_order
from pipeline.demo.truth import TruthTotals, customer_entries, observe
from pipeline.demo.world import SellerPlan, World, world_for

TEXT_PARTS = ("latest", "older", "recurring", "limited", "customers")
LATEST_REFUND_SIGN, OLDER_REFUND_SIGN = -1, 1  # one sign per export, both signs across them
RECURRING_AFTER_EXPORT, LIMITED_AFTER_EXPORT = 40, 95  # seconds: the subscriptions downloads


@dataclass
class ChunkResult:
    number: int
    customers: int
    parts: dict[str, Path]
    rows: dict[str, int] = field(default_factory=dict)
    totals: TruthTotals = field(default_factory=TruthTotals)


def part_path(workdir: Path, number: int, name: str) -> Path:
    return workdir / f"{number:07d}.{name}"


def _write_transactions(
    world: World, history: History, rows: TransactionRows, files: dict[str, TextIO]
) -> dict[str, int]:
    timeline = world.timeline
    counts = {"latest": 0, "older": 0}
    rows.start_customer()
    for event in history.events:
        if event.at > timeline.latest_export_at:
            break
        latest = rows.rows(event, LATEST_REFUND_SIGN)
        files["latest"].writelines(latest)
        counts["latest"] += len(latest)
        if event.at <= timeline.older_export_at:
            # Only refund rows differ between the exports (their sign).
            older = rows.rows(event, OLDER_REFUND_SIGN) if isinstance(event, Refund) else latest
            files["older"].writelines(older)
            counts["older"] += len(older)
    return counts


def _write_subscriptions(
    world: World, history: History, files: dict[str, TextIO]
) -> dict[str, int]:
    """One row per subscription started before the download, in its state at the download."""
    counts = {"recurring": 0, "limited": 0}
    exported_at = world.timeline.latest_export_at
    taken = {"recurring": RECURRING_AFTER_EXPORT, "limited": LIMITED_AFTER_EXPORT}
    for event in history.events:
        if not isinstance(event, Checkout) or event.at > exported_at:
            continue
        for item in event.order.items:
            sub = item.subscription
            if sub is not None:
                files[sub.kind].write(subscription_row(world, sub, exported_at + taken[sub.kind]))
                counts[sub.kind] += 1
    return counts


def run_chunk(plan: SellerPlan, number: int, first: int, stop: int, workdir: Path) -> ChunkResult:
    """Customers `first` … `stop - 1` into part files in `workdir`."""
    world = world_for(plan)
    result = ChunkResult(number, stop - first, {})
    result.rows = dict.fromkeys(("latest", "older", "recurring", "limited", "deliveries"), 0)
    result.parts = {name: part_path(workdir, number, name) for name in TEXT_PARTS}
    deliveries: list[str] = []
    rows = TransactionRows(world)
    with ExitStack() as stack:
        files = {
            name: stack.enter_context(path.open("w", encoding="utf-8", newline=""))
            for name, path in result.parts.items()
        }
        for index in range(first, stop):
            history = simulate_customer(world, index)
            plan_deliveries(world, index, history.events)
            for counts in (
                _write_transactions(world, history, rows, files),
                _write_subscriptions(world, history, files),
            ):
                for name, count in counts.items():
                    result.rows[name] += count
            deliveries += delivery_lines(world, index, history.events)
            for entry in customer_entries(observe(history.events, world.timeline), result.totals):
                files["customers"].write(json.dumps(entry, ensure_ascii=False) + "\n")
            if index % TEST_ORDER_EVERY == 0:
                test = simulate_test_order(world, index // TEST_ORDER_EVERY)
                plan_deliveries(world, test.index, test.events, stream=1)
                deliveries += delivery_lines(world, test.index, test.events, stream=1)
    result.rows["deliveries"] = len(deliveries)
    result.parts["deliveries"] = part_path(workdir, number, "deliveries")
    write_run(deliveries, result.parts["deliveries"])
    return result
