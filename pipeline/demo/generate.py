"""`generate_seller`: the whole demo seller, written into a landing-shaped folder.

Customers are simulated in chunks (in worker processes when `workers` > 1); chunk parts are
appended to the outputs in chunk order, the deliveries' sorted runs are merged, and truth.json is
assembled from the chunks' aggregates and from work files read back a line at a time (the
customers' entries and their subscriptions). Every output is written as `<name>.part` and
renamed when complete, so a pipeline watching the folder never loads half a file.
"""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.demo.chunk import (
    TEXT_PARTS,
    ChunkResult,
    run_chunk,
)
from pipeline.demo.cost_files import write_cost_files
from pipeline.demo.cost_inputs import cost_inputs
from pipeline.demo.csv_export import SUBSCRIPTIONS_HEADER, TRANSACTIONS_HEADER
from pipeline.demo.deliveries import merge_runs
from pipeline.demo.timeline import DEFAULT_END, SUBSCRIPTION_EXPORT_DELAYS
from pipeline.demo.truth import TruthTotals, write_truth
from pipeline.demo.world import SellerPlan, World, world_for
from pipeline.settings import _check_timezone

CHUNK_CUSTOMERS = 1000
PROGRESS_EVERY_SECONDS = 2.0
OUTPUT_DIRS = (
    "orders", "subscriptions/recurring", "subscriptions/limited",
    "costs", "ad_spend", "fx_rates", "_demo",
)  # fmt: skip


class DemoOutputError(ValueError):
    """The output folder cannot take the demo seller; the message says what to do."""


@dataclass(frozen=True)
class SellerSummary:
    """What `generate_seller` wrote."""

    out: Path
    customers: int
    transaction_rows: int  # data rows of the latest Transactions export
    older_export_rows: int
    subscription_rows: int  # recurring + limited
    deliveries: int  # lines of deliveries.jsonl, duplicates included
    as_of: datetime
    webhook_setup_at: datetime
    # latest, older, recurring, limited, deliveries, truth, and the cost, ad spend and rate
    # files (pipeline.demo.cost_files)
    files: dict[str, Path]
    seconds: float

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        return (
            f"demo-data: {self.customers:,} customers, {self.transaction_rows:,} transaction rows "
            f"(+{self.older_export_rows:,} in the older export), {self.subscription_rows:,} "
            f"subscriptions, {self.deliveries:,} webhook deliveries into {self.out} "
            f"in {self.seconds:.1f} s (as_of {self.as_of:%Y-%m-%d %H:%M:%S} UTC)"
        )


def output_files(world: World, out: Path) -> dict[str, Path]:
    """Where each output goes: export file names carry their download time, local."""
    timeline, stamp = world.timeline, world.clock.file_stamp
    latest, older = timeline.latest_export_at, timeline.older_export_at
    return {
        "latest": out / "orders" / f"ThriveCart Customer Export {stamp(latest)}.csv",
        "older": out / "orders" / f"ThriveCart Customer Export {stamp(older)}.csv",
        **{
            kind: out
            / "subscriptions"
            / kind
            / f"ThriveCart Subscription Export {stamp(latest + delay)}.csv"
            for kind, delay in SUBSCRIPTION_EXPORT_DELAYS.items()
        },
        "deliveries": out / "_demo" / "deliveries.jsonl",
        "truth": out / "_demo" / "truth.json",
    }


def _check_empty(out: Path) -> None:
    for name in OUTPUT_DIRS:
        folder = out / name
        taken = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
        if taken:
            raise DemoOutputError(
                f"{folder} already holds {len(taken)} file(s) (e.g. {taken[0]!r}): the demo "
                "seller needs a folder without exports. Remove them or choose another --out."
            )


def _chunk_results(plan: SellerPlan, workdir: Path, workers: int) -> Iterator[ChunkResult]:
    starts = range(0, plan.customers, CHUNK_CUSTOMERS)
    stops = [min(s + CHUNK_CUSTOMERS, plan.customers) for s in starts]
    numbers = range(len(starts))
    if workers <= 1 or len(starts) == 1:
        for number, start, stop in zip(numbers, starts, stops, strict=True):
            yield run_chunk(plan, number, start, stop, workdir)
        return
    context = multiprocessing.get_context("spawn")  # safe from threaded callers (Dagster)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        n = len(starts)
        yield from pool.map(run_chunk, [plan] * n, numbers, starts, stops, [workdir] * n)


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def _assemble(
    plan: SellerPlan,
    workdir: Path,
    files: dict[str, Path],
    workers: int,
    progress: Callable[[str], None],
) -> tuple[dict[str, int], TruthTotals, list[Path]]:
    """Join the chunks' parts into the outputs; returns row counts, aggregates and runs."""
    headers = {"latest": TRANSACTIONS_HEADER, "older": TRANSACTIONS_HEADER}
    headers.update(recurring=SUBSCRIPTIONS_HEADER, limited=SUBSCRIPTIONS_HEADER)
    targets = {name: _partial(path) for name, path in files.items() if name in headers}
    targets |= {name: workdir / f"{name}.jsonl" for name in ("customers", "subscriptions")}
    rows, totals, runs = dict.fromkeys(TEXT_PARTS[:4], 0), TruthTotals(), []
    rows.update(deliveries=0, customers=0)
    with ExitStack() as stack:
        # Binary: the parts are already UTF-8, so joining them needs no decoding.
        outs = {name: stack.enter_context(path.open("wb")) for name, path in targets.items()}
        for name, header in headers.items():
            outs[name].write(header.encode() + b"\n")
        last_report = time.monotonic()
        for result in _chunk_results(plan, workdir, workers):
            for name in TEXT_PARTS:
                with result.parts[name].open("rb") as part:
                    shutil.copyfileobj(part, outs[name])
                result.parts[name].unlink()
            runs.append(result.parts["deliveries"])
            totals.merge(result.totals)
            for name, count in result.rows.items():
                rows[name] += count
            rows["customers"] += result.customers
            if time.monotonic() - last_report >= PROGRESS_EVERY_SECONDS:
                last_report = time.monotonic()
                progress(
                    f"demo-data: {rows['customers']:,}/{plan.customers:,} customers, "
                    f"{rows['latest']:,} transaction rows, {rows['deliveries']:,} deliveries"
                )
    return rows, totals, runs


def generate_seller(
    out: Path,
    customers: int,
    seed: int,
    *,
    account: str = "demo-seller",
    secret: str = "demo-secret",
    csv_timezone: str = "UTC",
    second_currency: bool = True,
    end: datetime = DEFAULT_END,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
) -> SellerSummary:
    """Write a synthetic ThriveCart seller into `out` (shaped like a landing folder).

    Equal arguments give byte-identical files, whatever `workers` is. `end` is the simulated
    "now" (UTC when naive): the history covers the ~18 months before it. `progress` receives a
    status line every few seconds.
    """
    if customers < 1:
        raise DemoOutputError(f"customers={customers}: ask for at least one customer.")
    if not account.strip() or not secret.strip():
        raise DemoOutputError("account and secret must not be empty.")
    plan = SellerPlan(
        customers, seed, account, secret, _check_timezone("csv_timezone", csv_timezone),
        second_currency, end.astimezone(UTC) if end.tzinfo else end.replace(tzinfo=UTC),
    )  # fmt: skip
    started = time.monotonic()
    world = world_for(plan)
    files = output_files(world, out)
    _check_empty(out)
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=".work-", dir=out / "_demo"))
    try:
        rows, totals, runs = _assemble(plan, workdir, files, workers, progress or (lambda _: None))
        merge_runs(runs, _partial(files["deliveries"]))
        jsonl = (workdir / "customers.jsonl", workdir / "subscriptions.jsonl")
        write_truth(_partial(files["truth"]), world, totals, *jsonl)
        inputs_written = write_cost_files(cost_inputs(world), out)
        for path in files.values():
            _partial(path).replace(path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        for path in files.values():
            _partial(path).unlink(missing_ok=True)
    return SellerSummary(
        out=out,
        customers=customers,
        transaction_rows=rows["latest"],
        older_export_rows=rows["older"],
        subscription_rows=rows["recurring"] + rows["limited"],
        deliveries=rows["deliveries"],
        as_of=datetime.fromtimestamp(totals.as_of, UTC),
        webhook_setup_at=datetime.fromtimestamp(world.timeline.webhook_setup_at, UTC),
        files=files | inputs_written,
        seconds=time.monotonic() - started,
    )
