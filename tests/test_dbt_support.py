"""Helpers of the dbt tests (no tests here): a landing folder through the real pipeline parts
into a warehouse, `dbt` runs with the settings' vars, and the comparison with truth.json.

The path is the product's own: the demo generator writes the landing folder, the sidecar's
`replay_to_log` writes the webhook log, the ingest functions load the raw tables, and dbt builds
with `Settings.dbt_vars()`. Only the order of the loads is ours to choose.

A generated seller costs seconds to build, so a test module builds it once; under pytest-xdist
every worker would build it again, so the first worker to ask builds it under a file lock and
the others read the same warehouse (read-only, which DuckDB allows across processes).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from dbt.artifacts.schemas.run import RunResult
from dbt.cli.main import dbtRunner
from dbt.contracts.graph.manifest import Manifest
from filelock import FileLock

from pipeline.dbt_command import vars_args
from pipeline.demo import generate_seller, load_truth
from pipeline.demo.cost_inputs import DEMO_REPORTING_CURRENCY
from pipeline.ingest.csv_load import ExportFile, loaded_hashes
from pipeline.ingest.input_load import load_landing_file
from pipeline.ingest.landing import PendingFile, pending_files
from pipeline.ingest.webhook_load import load_webhook_days, loaded_segment_sizes
from pipeline.ingest.webhook_scan import pending_webhook_days
from pipeline.publish import CONTRACT_MARTS
from pipeline.settings import DBT_PROJECT_DIR, Settings, load_settings
from pipeline.sidecar.replay import replay_to_log
from pipeline.warehouse import connect, ensure_raw_schema

MARTS = (*CONTRACT_MARTS, "mart_metadata")
# mart_metadata without what describes the build rather than the data (docs/incremental.md).
BUILD_COLUMNS = "* exclude (build_id, rebuilt_all, recomputed_orders, recomputed_customers)"
# Load a whole landing folder now, however recently its files were written.
# The exports on a New York clock, so every CSV-only payment's date depends on the conversion:
# how the other engines' tests (PostgreSQL, Spark) build their seller.
NEW_YORK_CLOCK = {"LTV_CSV_TIMEZONE": "America/New_York"}
# Every model and its data tests, as the pipeline builds them.
BUILD = ("build", "--exclude", "resource_type:unit_test")
EVERYTHING_SETTLED_NS = 10**18 * 9


def settings_for(root: Path, **env: str) -> Settings:
    """Settings for a landing folder and warehouse under `root`, plus `env` overrides.

    Every option truth.json depends on is set here, so a developer's .env cannot change it.
    """
    return load_settings(
        {
            "LTV_LANDING_DIR": str(root / "landing"),
            "LTV_WAREHOUSE": str(root / "warehouse" / "ltv.duckdb"),
            "LTV_MARTS_SNAPSHOT": str(root / "warehouse" / "marts.duckdb"),
            "DAGSTER_HOME": str(root / "dagster"),
            "LTV_TIMEZONE": "UTC",
            "LTV_CSV_TIMEZONE": "UTC",
            "LTV_MATCH_TOLERANCE_MINUTES": "1440",
            "LTV_DAY_N": "0,7,30,60,90,180,365",
            "LTV_DELINQUENCY_DAYS": "14",
            "LTV_REPORTING_CURRENCY": DEMO_REPORTING_CURRENCY,
            **env,
        }
    )


def load_landing(
    settings: Settings,
    order: Callable[[list[PendingFile]], Sequence[PendingFile]] = list,
    webhook_days: Callable[[list[date]], Sequence[Sequence[date]]] = lambda days: [days],
) -> None:
    """Load every export and log segment of the landing folder into the raw tables.

    `order` arranges the exports, `webhook_days` groups the log days into successive loads.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    con = connect(settings.warehouse)
    try:
        ensure_raw_schema(con)
        for pending in order(
            pending_files(settings.landing_dir, loaded_hashes(con), EVERYTHING_SETTLED_NS)
        ):
            file = ExportFile(pending.file.path, pending.file.rel_path, pending.sha256)
            load_landing_file(con, file, pending.export, now)
        days = pending_webhook_days(settings.webhooks_dir, loaded_segment_sizes(con))
        for group in webhook_days(days):
            load_webhook_days(con, settings.landing_dir, settings.webhooks_dir, group, now)
    finally:
        con.close()


def reload_everything(settings: Settings) -> None:
    """Load every export and log day again, as a re-materialized partition would."""
    now = datetime.now(UTC).replace(tzinfo=None)
    con = connect(settings.warehouse)
    try:
        for pending in pending_files(settings.landing_dir, set(), EVERYTHING_SETTLED_NS):
            file = ExportFile(pending.file.path, pending.file.rel_path, pending.sha256)
            load_landing_file(con, file, pending.export, now)
        days = pending_webhook_days(settings.webhooks_dir, {})
        load_webhook_days(con, settings.landing_dir, settings.webhooks_dir, days, now)
    finally:
        con.close()


@cache
def _parsed_project(engine: str = "duckdb") -> tuple[Manifest, Path]:
    """The project parsed once per process and engine (a parse costs seconds, a run reuses it;
    the engine decides which adapter's macros the manifest holds).

    dbt names a DuckDB database after its file, so every warehouse these tests build is called
    ltv.duckdb and the parsed manifest's `ltv` database fits them all. For the same reason every
    PostgreSQL database they build in is called `ltv` (the profile's default), each in a
    cluster of its own: dbt-postgres refuses a relation of the manifest in another database.
    """
    work = Path(tempfile.mkdtemp(prefix="ltv-dbt-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    if engine == "duckdb":
        engine_vars = {"ltv_warehouse": str(work / "ltv.duckdb")}
    else:
        engine_vars = {"ltv_engine": engine}
    result = dbtRunner().invoke(["parse", "--vars", json.dumps(engine_vars), *_project_args(work)])
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")
    return result.result, work


def _project_args(work: Path) -> list[str]:
    return [
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
        "--quiet",
    ]


def _release_warehouse() -> None:
    """Close the DuckDB database dbt-duckdb keeps open after a run.

    dbt-duckdb expects one run per process and holds the file (and its lock) until exit; run
    in-process, it would keep other processes and this one's readers out of the warehouse.
    It exposes no public way to let go, so this does what it does itself on a profile change.
    """
    manager = DuckDBConnectionManager
    with manager._LOCK:
        if manager._ENV is not None:
            manager._ENV.close()
            manager._ENV = None


def _dbt_work(settings: Settings, command: str) -> Path:
    return settings.warehouse.parent / f"dbt-{settings.engine}-{command}"


def dbt_target(settings: Settings, command: str) -> Path:
    """The target folder where run_dbt let dbt write `command`'s artifacts."""
    return _dbt_work(settings, command) / "target"


def run_dbt(settings: Settings, *args: str) -> list[RunResult]:
    """Run `dbt <args>` in-process on the settings' warehouse (their engine's) with their vars.

    Fails the test with every failing node's message when dbt fails. Target and logs go beside
    the DuckDB warehouse file, never into the shared dbt_project/target.
    """
    if settings.engine == "duckdb":
        assert settings.warehouse.name == "ltv.duckdb", "see _parsed_project"
    manifest, _ = _parsed_project(settings.engine)
    work = _dbt_work(settings, args[0])
    try:
        outcome = dbtRunner(manifest=manifest).invoke(
            [*args, *vars_args(settings), *_project_args(work)]
        )
    finally:
        _release_warehouse()
    # A catalog (`docs generate`) has no node results; a build's or test's result has.
    results = list(getattr(outcome.result, "results", None) or [])
    if not outcome.success:
        failures = [
            f"{r.node.unique_id}: {r.status}: {r.message}"
            for r in results
            if r.status not in ("success", "pass")
        ]
        pytest.fail(f"dbt {' '.join(args)} failed: {outcome.exception}\n" + "\n".join(failures))
    return results


@dataclass(frozen=True)
class Seller:
    """A generated seller, loaded and built: its settings and its truth.json."""

    settings: Settings
    truth: dict[str, Any]

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.settings.warehouse), read_only=True)


def generate_and_replay(settings: Settings, customers: int, seed: int) -> dict[str, Any]:
    """The demo seller in the landing folder, its deliveries replayed into the webhook log."""
    generate_seller(
        settings.landing_dir, customers, seed, csv_timezone=settings.csv_timezone, workers=2
    )
    truth = load_truth(settings.landing_dir)
    deliveries = settings.landing_dir / "_demo" / "deliveries.jsonl"
    summary = replay_to_log(deliveries, settings.webhooks_dir, {truth["account"]: truth["secret"]})
    assert summary.accepted == summary.sent, summary.describe()
    return truth


@contextmanager
def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Iterator[Path]:
    """A folder where `build(folder)` ran exactly once across all xdist workers.

    A failed build is not tried again by the next worker: it fails with the first error.
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the session's folder, common to every worker
    root = shared / name
    with FileLock(str(shared / f"{name}.lock")):
        if (root / ".failed").exists():
            pytest.fail(f"building {name} failed in another test: {(root / '.failed').read_text()}")
        if not (root / ".built").exists():
            root.mkdir(exist_ok=True)
            try:
                build(root)
            except BaseException as exc:
                (root / ".failed").write_text(str(exc)[:2000])
                raise
            (root / ".built").touch()
    yield root


def marts_differences(
    con: duckdb.DuckDBPyConnection, left: str, right: str
) -> dict[str, tuple[int, int]]:
    """Per mart, (rows only in `left`, rows only in `right`) of two attached warehouses; two
    builds of the same data differ only in mart_metadata's columns about the build."""
    differences = {}
    for mart in MARTS:
        columns = BUILD_COLUMNS if mart == "mart_metadata" else "*"
        counts = []
        for first, second in ((left, right), (right, left)):
            query = (
                f"select count(*) from (select {columns} from {first}.marts.{mart} "
                f"except all select {columns} from {second}.marts.{mart})"
            )
            counts.append(con.execute(query).fetchone()[0])
        if any(counts):
            differences[mart] = (counts[0], counts[1])
    return differences


@dataclass(frozen=True)
class EngineComparison:
    """Another engine's marts (copied into a DuckDB file) against DuckDB's build of the same
    raw tables: rows only on one side per mart, every mart column's type on each side, and the
    other engine's payments."""

    differences: dict[str, tuple[int, int]]
    types: list[tuple[str, str, str]]
    duckdb_types: list[tuple[str, str, str]]
    payments: int


def compare_with_duckdb(marts: Path, duckdb_warehouse: Path) -> EngineComparison:
    types = """select table_name, column_name, data_type from duckdb_columns()
               where database_name = ? and schema_name = 'marts'
               order by table_name, column_index"""
    with duckdb.connect() as con:
        con.execute(f"attach '{marts}' as other (read_only)")
        con.execute(f"attach '{duckdb_warehouse}' as on_duckdb (read_only)")
        return EngineComparison(
            marts_differences(con, "other", "on_duckdb"),
            con.execute(types, ["other"]).fetchall(),
            con.execute(types, ["on_duckdb"]).fetchall(),
            con.execute("select count(*) from other.marts.fct_payments").fetchone()[0],
        )


def mismatch_report(problems: list[str]) -> str:
    """The assertion message of a comparison with truth: how many, and the first twenty."""
    return f"{len(problems)} mismatches, e.g.:\n" + "\n".join(problems[:20])


def truth_mismatches(con: duckdb.DuckDBPyConnection, truth: dict[str, Any]) -> list[str]:
    """Every comparison of the marts with truth.json: customers, aggregates and the sections."""
    return (
        customer_mismatches(con, truth)
        + aggregate_mismatches(con, truth)
        + truth_section_mismatches(con, truth)
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def customer_mismatches(con: duckdb.DuckDBPyConnection, truth: dict[str, Any]) -> list[str]:
    """Every (email, currency) whose dim_customers row differs from truth.json, field by field,
    plus rows truth does not have."""
    rows = con.execute(
        """select email, currency, gross_revenue, refunded_amount, net_revenue, first_paid_at,
                  cast(cohort_month as varchar), first_order_id, first_product_id,
                  orders_count, rebills_count, thrivecart_customer_ids,
                  acquisition_utm_source, acquisition_utm_medium, acquisition_utm_campaign,
                  net_margin, net_revenue_reporting, net_margin_reporting
           from marts.dim_customers"""
    ).fetchall()
    mine = {(row[0], row[1]): row[2:] for row in rows}
    problems = []
    for expected in truth["customers"]:
        key = (expected["email"], expected["currency"])
        got = mine.pop(key, None)
        if got is None:
            problems.append(f"{key}: missing")
            continue
        gross, refunds, net, first_paid_at, cohort, order, product, orders, rebills, ids = got[:10]
        source, medium, campaign, margin, net_reporting, margin_reporting = got[10:]
        actual = {
            "gross": gross,
            "refunds": refunds,
            "net": net,
            "first_paid_at": _iso(first_paid_at),
            "cohort_month": cohort,
            "first_order_id": order,
            "first_product_id": product,
            "orders_count": orders,
            "rebills_count": rebills,
            "thrivecart_customer_ids": list(ids or []),
            "acquisition_utm_source": source,
            "acquisition_utm_medium": medium,
            "acquisition_utm_campaign": campaign,
            "net_margin": margin,
            "net_revenue_reporting": net_reporting,
            "net_margin_reporting": margin_reporting,
        }
        wrong = {f: (expected[f], v) for f, v in actual.items() if expected[f] != v}
        if wrong:
            problems.append(f"{key}: {wrong}")
    problems += [f"{key}: not in truth" for key in mine]
    return problems


def _per_customer(amount: Decimal, customers: int) -> Decimal | None:
    return (amount / customers).quantize(Decimal("0.01"), "ROUND_HALF_UP") if customers else None


# The marts truth.json has a section of the same name for, whose rows carry every column of the
# mart, each with its key.
TRUTH_SECTION_MARTS = {
    "repeat_purchase_cohorts": ("account", "currency", "cohort_month"),
    "customers_by_order_count": ("account", "currency", "orders_count"),
    "product_paths": ("account", "currency", "first_product_id", "next_product_id"),
    "mrr_monthly": ("account", "currency", "month"),
    "subscription_retention_cohorts": ("account", "currency", "start_month", "months_since_start"),
    "failed_payment_recovery": ("account", "currency", "kind", "failure_month"),
    "split_pay_plans": ("account", "currency", "product_id", "start_month"),
    "cac_cohorts": ("account", "currency", "cohort_month", "channel", "campaign"),
}


def _plain(value: Any) -> Any:
    """A mart value as truth.json writes it: dates as `YYYY-MM-DD`, the rest as read."""
    return value.isoformat() if isinstance(value, date) else value


def truth_section_mismatches(con: duckdb.DuckDBPyConnection, truth: dict[str, Any]) -> list[str]:
    """Every row of the marts truth.json has a section for, column by column, plus rows only
    one side has."""
    problems = []
    for mart, key in TRUTH_SECTION_MARTS.items():
        cursor = con.execute(f"select * from marts.{mart}")
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, map(_plain, row), strict=True)) for row in cursor.fetchall()]
        mine = {tuple(row[k] for k in key): row for row in rows}
        for expected in truth[mart]:
            got = mine.pop(tuple(expected[k] for k in key), None)
            if got != expected:
                problems.append(f"{mart}: got {got}, want {expected}")
        problems += [f"{mart} {row}: not in truth" for row in mine.values()]
    return problems


def _all_currency_mismatches(con: duckdb.DuckDBPyConnection, truth: dict[str, Any]) -> list[str]:
    """ltv_cohorts_all_currencies' latest month per cohort: the currencies' cohorts added up."""
    want: dict[str, list[Any]] = {}
    for cohort in truth["cohorts"]:
        row = want.setdefault(cohort["cohort_month"], [0, Decimal(0), Decimal(0)])
        row[0] += cohort["customers"]
        row[1] += cohort["net_reporting"]
        row[2] += cohort["margin_reporting"]
    got = {
        row[0]: list(row[1:])
        for row in con.execute(
            """select cast(cohort_month as varchar), cohort_customers, cumulative_net_revenue,
                      cumulative_margin
               from marts.ltv_cohorts_all_currencies
               qualify months_since_acquisition = max(months_since_acquisition)
                   over (partition by cohort_month)"""
        ).fetchall()
    }
    problems = []
    for month, row in want.items():
        mine = got.pop(month, None)
        if mine != row:
            problems.append(f"all currencies {month}: got {mine}, want {row}")
    return problems + [f"all currencies {month}: not in truth" for month in got]


def aggregate_mismatches(con: duckdb.DuckDBPyConnection, truth: dict[str, Any]) -> list[str]:
    """Totals, cohorts and day-N of the marts against truth.json."""
    problems = []
    totals = {
        row[0]: row[1:]
        for row in con.execute(
            """select currency,
                      sum(case when payment_type = 'charge' then amount else 0 end),
                      sum(case when payment_type = 'rebill' then amount else 0 end),
                      -sum(case when payment_type = 'refund' then amount else 0 end),
                      sum(amount), count(*)
               from marts.fct_payments group by currency"""
        ).fetchall()
    }
    for expected in truth["totals"]:
        want = tuple(expected[f] for f in ("charges", "rebills", "refunds", "net", "payments"))
        if totals.pop(expected["currency"], None) != want:
            problems.append(f"totals {expected['currency']}: want {want}")
    problems += [f"totals {currency}: not in truth" for currency in totals]

    # A cohort's last cumulative value is its customers' net revenue to date.
    cohorts = {
        (row[0], row[1]): tuple(row[2:])
        for row in con.execute(
            """select currency, cast(cohort_month as varchar), cohort_customers,
                      cumulative_net_revenue, cumulative_net_revenue_charge_clock,
                      cumulative_margin, cumulative_net_revenue_reporting,
                      cumulative_margin_reporting
               from marts.ltv_cohorts_monthly
               qualify months_since_acquisition = max(months_since_acquisition)
                   over (partition by currency, cohort_month)"""
        ).fetchall()
    }
    for expected in truth["cohorts"]:
        key = (expected["currency"], expected["cohort_month"])
        got = cohorts.pop(key, None)
        # Summed over every month, the two refund clocks agree.
        want = (expected["customers"], expected["net"], expected["net"], expected["margin"])
        want += (expected["net_reporting"], expected["margin_reporting"])
        if got != want:
            problems.append(f"cohort {key}: got {got}, want {want}")
    problems += [f"cohort {key}: not in truth" for key in cohorts]
    problems += _all_currency_mismatches(con, truth)

    # truth.json has the segments `all` and the traffic sources (utm_*), every value of them.
    day_n = {
        tuple(row[:4]): row[4:]
        for row in con.execute(
            """select currency, segment_type, segment_value, day_n, customers,
                      eligible_customers, net_revenue, ltv, net_revenue_charge_clock,
                      ltv_charge_clock, net_margin, margin_ltv, net_revenue_reporting,
                      net_margin_reporting
               from marts.ltv_day_n
               where segment_type in ('all', 'utm_source', 'utm_medium', 'utm_campaign')"""
        ).fetchall()
    }
    for expected in truth["day_n"]:
        key = tuple(expected[f] for f in ("currency", "segment_type", "segment_value", "day_n"))
        eligible, net = expected["eligible_customers"], expected["net_revenue"]
        net_charge_clock, margin = expected["net_revenue_charge_clock"], expected["net_margin"]
        want = (
            expected["customers"],
            eligible,
            net,
            _per_customer(net, eligible),
            net_charge_clock,
            _per_customer(net_charge_clock, eligible),
            margin,
            _per_customer(margin, eligible),
            expected["net_revenue_reporting"],
            expected["net_margin_reporting"],
        )
        got = day_n.pop(key, None)
        if got != want:
            problems.append(f"day_n {key}: got {got}, want {expected}")
    problems += [f"day_n {key}: not in truth" for key in day_n]

    as_of, *fx = con.execute(
        """select as_of, reporting_currency, payments_converted_at_earlier_rate,
                  payments_not_converted
           from marts.mart_metadata"""
    ).fetchone()
    if _iso(as_of) != truth["as_of"]:
        problems.append(f"as_of: got {_iso(as_of)}, want {truth['as_of']}")
    fx_fields = (
        "reporting_currency",
        "payments_converted_at_earlier_rate",
        "payments_not_converted",
    )
    if tuple(fx) != tuple(truth[f] for f in fx_fields):
        problems.append(f"conversion counts: got {fx}, want {[truth[f] for f in fx_fields]}")
    return problems
