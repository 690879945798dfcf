"""dbt build time at 10k, 100k and 1M transactions, beside a hand-written DuckDB floor.

    .venv/bin/python bench/dbt_bench.py [--rows 10000 100000 1000000] [--repeat 2]

For each size, a demo seller with about that many rows in its latest Transactions export is
generated, its deliveries replayed into a webhook log and everything loaded into the raw tables
by the ingest functions, once (cached in bench/out/dbt/raw-<rows>.duckdb). Then, on a fresh copy
of that raw warehouse each time:

- `dbt build --exclude resource_type:unit_test`: the command the Dagster dbt asset runs (a
  subprocess: start-up, parse, every model and data test), timed from outside; dbt's own
  elapsed time (models and tests, without start-up and parse) is reported beside it;
- the floor: one hand-written DuckDB query computing dim_customers (per customer and currency:
  gross, refunds, net, first payment, orders and rebills) from the same staged rows, with the
  same deduplication, timed as `CREATE TABLE … AS`. It is checked against marts.dim_customers,
  so the floor is a fair one;
- then a change, a new export of the latest export's first 1,000 rows (orders the warehouse
  holds), loaded into raw untimed, and both again: the same `dbt build`, now incremental, and
  the floor for the change (its customers deleted from the floor table and computed again from
  all their rows), checked against marts.dim_customers again.

Medians of `--repeat` runs, wall and CPU seconds (CPU time says more than wall time on a
machine shared with other work), go to stdout and bench/out/dbt/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline.dbt_command import build_args, project_args
from pipeline.demo import customers_for_rows, generate_seller, load_truth
from pipeline.ingest.csv_load import ExportFile, load_export, loaded_hashes
from pipeline.ingest.headers import TRANSACTIONS
from pipeline.ingest.input_load import load_landing_file
from pipeline.ingest.landing import file_sha256, pending_files
from pipeline.ingest.webhook_load import load_webhook_days
from pipeline.ingest.webhook_scan import pending_webhook_days
from pipeline.settings import load_settings
from pipeline.sidecar.replay import replay_to_log
from pipeline.warehouse import connect, ensure_raw_schema

OUT = Path(__file__).resolve().parent / "out" / "dbt"
DBT = Path(sys.executable).with_name("dbt")
EVERYTHING_SETTLED_NS = 9 * 10**18
# The change of the incremental runs: a new export of this many rows, dated after the seller's.
CHANGE_ROWS = 1_000
CHANGE_STAMP = "2099-01-01 00_00_00"

# dim_customers by hand: the staged money movements, deduplicated within each source (webhooks
# by natural key, export rows by content and occurrence), export rows dropped when a webhook
# has the same payment (exact charge id, or order/item/kind/amount within the tolerance;
# refunds without the date), then one aggregate per customer and currency.
FLOOR_SELECT = """
with csv_rows as (
    select *,
        case when event_type = 'refund' then -abs(total) else total end as amount,
        dense_rank() over (
            partition by file_sha256, order_id, event_type, item_type, item_id,
                transaction_id, ordered_at_local, abs(total)
            order by file_row_number) as occurrence
    from staging.stg_thrivecart__transactions
    where event_type in ('charge', 'rebill', 'refund') and {customers}
),
csv_payments as (
    select event_type as payment_type, order_id, item_type, item_id, amount, currency,
        ordered_at as paid_at, transaction_id, email
    from csv_rows
    qualify row_number() over (
        partition by order_id, event_type, item_type, item_id, transaction_id,
            ordered_at_local, amount, occurrence
        order by file_sha256) = 1
),
order_items as (
    select *, sum(amount) over (partition by delivery_id) as charges_sum
    from staging.stg_thrivecart__webhook_order_items
    where {customers}
),
webhook_movements as (
    select 'charge' as payment_type, account || order_id || item_type || item_id as natural_key,
        order_id, item_type, item_id, amount, currency, ordered_at as paid_at,
        processor_charge_id, email, received_at, is_test
    from order_items
    where not (charge_type = 'recurring' and charges_sum > order_total)
    union all
    select 'rebill', account || order_id || invoice_id, order_id, item_type, item_id, amount,
        currency, rebilled_at, processor_charge_id, email, received_at, is_test
    from staging.stg_thrivecart__webhook_rebills
    where {customers}
    union all
    select 'refund', account || event_id, order_id, item_type, item_id, -abs(amount),
        currency, refunded_at, processor_charge_id, email, received_at, is_test
    from staging.stg_thrivecart__webhook_refunds
    where {customers}
),
webhook_payments as (
    select * from webhook_movements
    qualify row_number() over (partition by natural_key order by received_at) = 1
),
csv_only as (
    select * from csv_payments as c
    where not exists (
        select 1 from webhook_payments as w
        where w.payment_type = c.payment_type and w.processor_charge_id = c.transaction_id
    )
    and not exists (
        select 1 from webhook_payments as w
        where w.payment_type = c.payment_type and w.order_id = c.order_id
            and w.item_type = c.item_type and w.item_id = c.item_id
            and w.amount = c.amount and w.currency = c.currency
            and (c.payment_type = 'refund'
                or abs(epoch(w.paid_at) - epoch(c.paid_at)) <= {tolerance_seconds})
    )
),
payments as (
    select payment_type, order_id, item_type, item_id, amount, currency, paid_at, email
    from webhook_payments where not is_test
    union all
    select payment_type, order_id, item_type, item_id, amount, currency, paid_at, email
    from csv_only
)
select
    email, currency,
    sum(amount) filter (where payment_type <> 'refund') as gross_revenue,
    -sum(amount) filter (where payment_type = 'refund') as refunded_amount,
    sum(amount) as net_revenue,
    min(paid_at) filter (where amount > 0 and payment_type <> 'refund') as first_paid_at,
    count(distinct order_id) filter (where payment_type = 'charge') as orders_count,
    count(*) filter (where payment_type = 'rebill') as rebills_count
from payments
group by email, currency
"""
FLOOR_SQL = "create or replace table main.floor_customers as " + FLOOR_SELECT
# The same change by hand: the customers on the new file's rows, deleted and computed again
# from all of their rows (what the incremental models do for dim_customers).
FLOOR_CHANGE_SQL = """
create or replace temp table changed as
    select distinct email from staging.stg_thrivecart__transactions where file_sha256 = '{sha}';
delete from main.floor_customers where email in (select email from changed);
insert into main.floor_customers """ + FLOOR_SELECT.replace(
    "{customers}", "email in (select email from changed)"
)

FLOOR_CHECK_SQL = """
select count(*) from (
    select email, currency, coalesce(gross_revenue, 0), coalesce(refunded_amount, 0),
        net_revenue, first_paid_at, orders_count, rebills_count
    from main.floor_customers
    except
    select email, currency, gross_revenue, refunded_amount, net_revenue, first_paid_at,
        orders_count, rebills_count
    from marts.dim_customers
)
"""


def write_change(landing: Path, change: Path) -> None:
    """The change the incremental runs load: the latest export's first rows, as a new file."""
    latest = sorted((landing / "orders").glob("ThriveCart Customer Export *.csv"))[-1]
    with latest.open("rb") as source:
        change.write_bytes(b"".join(source.readline() for _ in range(CHANGE_ROWS + 1)))


def prepare_raw(rows: int) -> tuple[Path, Path, dict]:
    """The raw warehouse of a seller with about `rows` latest-export rows and the export of
    its change, built once."""
    raw = OUT / f"raw-{rows}.duckdb"
    facts = OUT / f"raw-{rows}.json"
    change = OUT / f"change-{rows}" / f"ThriveCart Customer Export {CHANGE_STAMP}.csv"
    if raw.exists() and facts.exists() and change.exists():
        return raw, change, json.loads(facts.read_text())
    change.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dbt-bench-") as tmp:
        landing = Path(tmp) / "landing"
        started = time.perf_counter()
        summary = generate_seller(landing, customers_for_rows(rows), seed=1, workers=2)
        truth = load_truth(landing)
        secrets = {truth["account"]: truth["secret"]}
        replay_to_log(landing / "_demo" / "deliveries.jsonl", landing / "webhooks", secrets)
        write_change(landing, change)
        prepared = time.perf_counter() - started
        partial = raw.with_suffix(".part")
        partial.unlink(missing_ok=True)
        now = datetime.now(UTC).replace(tzinfo=None)
        date_order = load_settings({}).csv_date_order
        con = connect(partial)
        started = time.perf_counter()
        try:
            ensure_raw_schema(con)
            for pending in pending_files(landing, loaded_hashes(con), EVERYTHING_SETTLED_NS):
                file = ExportFile(pending.file.path, pending.file.rel_path, pending.sha256)
                load_landing_file(con, file, pending.export, now, date_order)
            days = pending_webhook_days(landing / "webhooks", {})
            load_webhook_days(con, landing, landing / "webhooks", days, now)
        finally:
            con.close()
        loaded = time.perf_counter() - started
    partial.rename(raw)
    result = {
        "latest_export_rows": summary.transaction_rows,
        "older_export_rows": summary.older_export_rows,
        "subscription_rows": summary.subscription_rows,
        "deliveries": summary.deliveries,
        "generate_and_replay_seconds": round(prepared, 1),
        "raw_load_seconds": round(loaded, 1),
    }
    facts.write_text(json.dumps(result))
    return raw, change, result


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def time_dbt_build(warehouse: Path) -> tuple[float, float, float]:
    """(wall seconds of the subprocess, its CPU seconds, dbt's own elapsed seconds)."""
    settings = load_settings({"LTV_WAREHOUSE": str(warehouse)})
    target = warehouse.parent / "target"
    command = [
        str(DBT),
        *build_args(settings),
        *project_args(),
        "--target-path",
        str(target),
        "--log-path",
        str(warehouse.parent / "logs"),
    ]
    started, cpu = time.perf_counter(), _children_cpu()
    result = subprocess.run(command, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - started, _children_cpu() - cpu
    if result.returncode != 0:
        raise SystemExit(f"dbt build failed:\n{result.stdout[-4000:]}")
    elapsed = json.loads((target / "run_results.json").read_text())["elapsed_time"]
    return wall, cpu, elapsed


def time_floor(warehouse: Path, sql: str) -> tuple[float, float, int]:
    """(wall and CPU seconds of the hand-written dim_customers `sql`, rows differing from
    marts.dim_customers afterwards)."""
    tolerance = load_settings({}).match_tolerance_minutes * 60
    with duckdb.connect(str(warehouse)) as con:
        started, cpu = time.perf_counter(), _own_cpu()
        con.execute(sql.replace("{tolerance_seconds}", str(tolerance)))
        wall, cpu = time.perf_counter() - started, _own_cpu() - cpu
        differing = con.execute(FLOOR_CHECK_SQL).fetchone()[0]
    return wall, cpu, differing


def load_change(warehouse: Path, change: Path) -> str:
    """Load the change export into raw as the landing asset would; its SHA-256."""
    sha = file_sha256(change)
    file = ExportFile(change, f"orders/{change.name}", sha)
    with connect(warehouse) as con:
        load_export(con, file, TRANSACTIONS, datetime.now(UTC).replace(tzinfo=None))
    return sha


BUILD_FIGURES = ("build_seconds", "build_cpu_seconds", "elapsed_seconds")
FLOOR_FIGURES = ("floor_seconds", "floor_cpu_seconds", "floor_rows_differing")


def one_run(raw: Path, change: Path) -> dict[str, float]:
    """A full build and its floor, then the change loaded, an incremental build and its floor,
    on a fresh copy of the raw warehouse."""
    with tempfile.TemporaryDirectory(prefix="dbt-bench-run-") as tmp:
        warehouse = Path(tmp) / "ltv.duckdb"
        shutil.copyfile(raw, warehouse)
        figures = [
            *time_dbt_build(warehouse),
            *time_floor(warehouse, FLOOR_SQL.replace("{customers}", "true")),
        ]
        change_sql = FLOOR_CHANGE_SQL.replace("{sha}", load_change(warehouse, change))
        figures += [*time_dbt_build(warehouse), *time_floor(warehouse, change_sql)]
    names = [*BUILD_FIGURES, *FLOOR_FIGURES]
    return dict(zip([*names, *(f"change_{name}" for name in names)], figures, strict=True))


def bench(rows: int, repeat: int) -> dict:
    raw, change, facts = prepare_raw(rows)
    runs = [one_run(raw, change) for _ in range(repeat)]

    def median(key: str) -> float:
        return round(statistics.median(run[key] for run in runs), 2)

    return {
        "rows": rows,
        **facts,
        "dbt_build_seconds": median("build_seconds"),
        "dbt_build_cpu_seconds": median("build_cpu_seconds"),
        "dbt_elapsed_seconds": median("elapsed_seconds"),
        "floor_seconds": median("floor_seconds"),
        "floor_cpu_seconds": median("floor_cpu_seconds"),
        "floor_rows_differing_from_dim_customers": max(r["floor_rows_differing"] for r in runs),
        "change_rows": CHANGE_ROWS,
        "change_dbt_build_seconds": median("change_build_seconds"),
        "change_dbt_build_cpu_seconds": median("change_build_cpu_seconds"),
        "change_dbt_elapsed_seconds": median("change_elapsed_seconds"),
        "change_floor_seconds": median("change_floor_seconds"),
        "change_floor_cpu_seconds": median("change_floor_cpu_seconds"),
        "change_floor_rows_differing": max(r["change_floor_rows_differing"] for r in runs),
        "load_average": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    results = []
    for rows in args.rows:
        result = bench(rows, args.repeat)
        results.append(result)
        print(json.dumps(result), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
