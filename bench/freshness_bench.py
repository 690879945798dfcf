"""Freshness: seconds from a webhook POST to the event being visible in the published snapshot.

    .venv/bin/python bench/freshness_bench.py [--customers 100] [--repeat 2] [--json OUT]
    .venv/bin/python bench/freshness_bench.py --rows 1000000   # on a built 1M-row seller

Starts what `make run` starts (webhook sidecar, Dagster daemon and webserver; the test suite's
`running_stack`, on free loopback ports, temporary folders under bench/out/freshness/), loads a
small demo seller through it (exports in the landing folder, deliveries POSTed to the sidecar),
waits until the marts are published and the pipeline has been idle for a while, then `--repeat`
times: POSTs one new live `order.success` (a copy of a demo order with a new order id and a new
customer email), and polls the snapshot read-only until that email is in `dim_customers`.

With `--rows N` the stack starts instead on a pipeline already holding the end-to-end bench's
seller of N latest-export rows (bench/e2e_bench.py's cache), loaded, built and published by
the stages of `ltv run` before the stack starts: a large seller's next webhook.

Beside each figure it prints the Dagster runs the POST caused (created, started, ended, relative
to the POST), which is where the time goes: sensor interval, queueing, run start, dbt, publish.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from pipeline.demo import generate_seller
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.sidecar.replay import iter_deliveries, replay_to_url

sys.path.insert(0, str(PROJECT_ROOT))  # the stack helpers live with the end-to-end tests
from tests.e2e_support import (
    SECRET,
    install_dagster_home,
    query_snapshot,
    running_stack,
    settings_of,
    stack_environment,
    wait_for,
)

OUT = Path(__file__).resolve().parent / "out" / "freshness"
ACCOUNT = "bench-seller"
QUIET_SECONDS = 35  # longer than the sensors' 30 s interval: nothing left to pick up
GOAL_SECONDS = 60


def order_template(deliveries: Path) -> list[tuple[str, str]]:
    """The form fields of the first live `order.success` among the demo deliveries."""
    for delivery in iter_deliveries(deliveries):
        fields = parse_qsl(delivery.body, keep_blank_values=True)
        values = dict(fields)
        if values.get("event") == "order.success" and values.get("mode") == "live":
            return fields
    raise SystemExit(f"no live form order.success in {deliveries}")


def new_order(template: list[tuple[str, str]], order_id: str, email: str) -> bytes:
    """The template with a new order id (a new payment, not a duplicate) and a new email."""
    old_id = dict(template)["order_id"]
    fields = [
        (key, email if key == "customer[email]" else order_id if value == old_id else value)
        for key, value in template
    ]
    return urlencode(fields).encode()


def create_instance_storage(root: Path) -> None:
    """Create the Dagster instance's SQLite storage before the stack starts.

    On a fresh DAGSTER_HOME the daemon and the webserver both create the schema at start-up and
    can race: the webserver then fails to load the code location ("Version table
    'alembic_version' has more than one head present").
    """
    import dagster as dg

    settings = settings_of(stack_environment(root))
    install_dagster_home(settings)
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        instance.get_runs_count()


def _active_runs(settings: Settings) -> int:
    import dagster as dg

    busy = [
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
    ]
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        return instance.get_runs_count(dg.RunsFilter(statuses=busy))


def wait_idle(settings: Settings, timeout: float) -> None:
    """Wait until no run has been queued or running for QUIET_SECONDS in a row."""
    quiet_since = time.monotonic()

    def probe() -> bool | None:
        nonlocal quiet_since
        if _active_runs(settings):
            quiet_since = time.monotonic()
        return True if time.monotonic() - quiet_since >= QUIET_SECONDS else None

    wait_for("the pipeline to be idle", probe, timeout, interval=2.0)


def runs_since(settings: Settings, posted: float) -> list[dict[str, Any]]:
    """Every run created after `posted` (epoch seconds): what it built, and when, relative."""
    import dagster as dg

    after = datetime.fromtimestamp(posted, UTC)
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        records = instance.get_run_records(dg.RunsFilter(created_after=after))
    runs = []
    for record in sorted(records, key=lambda r: r.create_timestamp):
        keys = sorted(k.to_user_string() for k in record.dagster_run.asset_selection or [])
        what = f"{keys[0]} (+{len(keys) - 1} more)" if keys else record.dagster_run.job_name
        times = {
            "created": record.create_timestamp.timestamp(),
            "started": record.start_time,
            "ended": record.end_time,
        }
        runs.append(
            {
                "assets": what,
                **{k: round(v - posted, 1) if v else None for k, v in times.items()},
            }
        )
    return runs


def measure(stack: Any, template: list[tuple[str, str]], timeout: float) -> dict[str, Any]:
    """POST one new order; seconds until its customer is in the published dim_customers."""
    email = f"fresh-{uuid.uuid4().hex[:12]}@example.com"
    body = new_order(template, str(9_000_000_000 + int(time.time())), email)
    sql = f"select 1 from dim_customers where email = '{email}'"
    posted = time.time()
    response = httpx.post(
        stack.webhook_url,
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10.0,
    )
    response.raise_for_status()
    wait_for(
        f"{email} in the snapshot",
        lambda: query_snapshot(stack.settings.marts_snapshot, sql) or None,
        timeout,
        interval=0.5,
        describe=stack.diagnostics,
    )
    seconds = time.time() - posted
    return {"seconds": round(seconds, 1), "runs": runs_since(stack.settings, posted)}


def seeded_seller(root: Path, customers: int) -> str:
    """A small demo seller in the landing folder, its deliveries to be POSTed; the secret."""
    generate_seller(root / "landing", customers, seed=1, account=ACCOUNT, secret=SECRET)
    create_instance_storage(root)
    return SECRET


def built_seller(root: Path, rows: int) -> str:
    """The e2e bench's seller of `rows` rows, loaded, built and published; its secret."""
    from bench.e2e_bench import SECRET as BUILT_SECRET
    from bench.e2e_bench import cached_log, cached_seller, link_pipeline, run_stages

    seller, _ = cached_seller(rows, 1)
    log_dir, _ = cached_log(seller, rows, 1)
    started = time.monotonic()
    run_stages(link_pipeline(seller, log_dir, root), OUT / f"built-{rows}.log")
    print(f"{rows:,}-row seller built in {time.monotonic() - started:.0f} s", flush=True)
    return BUILT_SECRET


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100, help="size of the seed seller")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1500.0, help="per bounded wait, seconds")
    parser.add_argument("--rows", type=int, help="start on this e2e seller, built (see above)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="stack-", dir=OUT) as tmp:
        root = Path(tmp)
        landing = root / "landing"
        secret = built_seller(root, args.rows) if args.rows else seeded_seller(root, args.customers)
        with running_stack(root, THRIVECART_SECRET=secret) as stack:
            deliveries = landing / "_demo" / "deliveries.jsonl"
            if not args.rows:
                seed = replay_to_url(deliveries, stack.webhook_url)
                print(f"seed: {seed.describe()}", flush=True)
            started = time.monotonic()
            wait_for(
                "the first publish",
                lambda: query_snapshot(stack.settings.marts_snapshot, "select 1 from fct_payments"),
                args.timeout,
                interval=2.0,
                describe=stack.diagnostics,
            )
            wait_idle(stack.settings, args.timeout)
            print(f"seed loaded and published, idle after {time.monotonic() - started:.0f} s")
            template = order_template(deliveries)
            for n in range(args.repeat):
                if n:
                    wait_idle(stack.settings, args.timeout)
                results.append(measure(stack, template, args.timeout))
                print(f"  POST -> visible: {results[-1]['seconds']:.1f} s", flush=True)
                for run in results[-1]["runs"]:
                    print(f"    {run}")
    median = statistics.median(r["seconds"] for r in results)
    print(f"freshness median {median:.1f} s (goal < {GOAL_SECONDS} s)")
    if args.json:
        size = {"rows": args.rows} if args.rows else {"customers": args.customers}
        args.json.write_text(json.dumps({**size, "runs": results}, indent=2))


if __name__ == "__main__":
    main()
