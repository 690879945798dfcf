"""`ltv run`: one shot. Ingest everything pending, build every model, publish the marts.

It drives the same Dagster assets the sensors do, in-process, against the persistent instance,
so its runs appear in the UI and its loads count for the sensors too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import click
import dagster as dg
import duckdb

from pipeline.instance import dagster_instance
from pipeline.settings import Settings, load_settings

# dbt's own progress lines stay; Dagster's per-event debug lines belong in the UI, not here.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class RunSummary:
    """What one `ltv run` did, for its closing lines."""

    files_loaded: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    rows_loaded: int = 0
    events_loaded: int = 0
    payments: int | None = None
    customers: int | None = None

    def lines(self, seconds: float) -> list[str]:
        built = self.payments is not None
        lines = [
            f"files loaded: {len(self.files_loaded)} ({self.rows_loaded:,} rows)",
            f"webhook events loaded: {self.events_loaded:,}",
            f"payments: {self.payments:,}  customers: {self.customers:,}" if built else
            "marts: not published",
            f"failed: {len(self.failures)}",
            f"time: {seconds:.1f} s",
        ]  # fmt: skip
        return lines + [f"  - {failure}" for failure in self.failures]


def _materializations(result: dg.ExecuteInProcessResult) -> list[dict]:
    return [e.materialization.metadata for e in result.get_asset_materialization_events()]


def _number(value: object) -> int:
    return int(getattr(value, "value", value) or 0)


def ingest(instance: dg.DagsterInstance, settings: Settings, summary: RunSummary) -> None:
    """Load pending landing files and webhook log lines; a bad file fails only its own run."""
    from pipeline.defs.ingest import failure_messages, ingest_pending

    for result in ingest_pending(instance, settings, run_config=QUIET_RUN_CONFIG):
        metadata = _materializations(result)
        if not result.success:
            summary.failures.extend(failure_messages([result]))
        elif metadata and "file" in metadata[0]:
            summary.files_loaded.append(str(metadata[0]["file"].value))
            summary.rows_loaded += _number(metadata[0].get("rows"))
        elif metadata:  # one range run for every pending webhook day: figures are per run
            summary.events_loaded += _number(metadata[0].get("events_in_run"))


def build_and_publish(
    instance: dg.DagsterInstance, settings: Settings, summary: RunSummary
) -> bool:
    """Build every dbt model (with its tests), then publish the snapshot and the report."""
    from pipeline.defs import dbt, publish
    from pipeline.defs.ingest import failure_messages
    from pipeline.defs.resources import pipeline_resources

    result = dg.materialize(
        [*dbt.build_defs().assets, *publish.defs.assets],
        instance=instance,
        resources=pipeline_resources(settings),
        run_config=QUIET_RUN_CONFIG,
        raise_on_error=False,
    )
    summary.failures.extend(failure_messages([result]))
    return result.success


def read_totals(settings: Settings, summary: RunSummary) -> None:
    """Payments and customers as analysts will see them: from the published snapshot."""
    with duckdb.connect(str(settings.marts_snapshot), read_only=True) as con:
        summary.payments = con.execute("select count(*) from fct_payments").fetchone()[0]
        summary.customers = con.execute(
            "select count(distinct customer_id) from dim_customers"
        ).fetchone()[0]


@click.command()
def run() -> None:
    """Ingest everything pending, build every model, publish the marts and the report.

    Exits 1 when anything failed (a rejected file, a failed dbt test); the marts are still
    built and published from everything that did load.
    """
    started = time.monotonic()
    settings = load_settings()
    instance = dagster_instance(settings)
    summary = RunSummary()
    click.echo("ltv run [1/2] loading landing files and the webhook log ...", err=True)
    ingest(instance, settings, summary)
    click.echo("ltv run [2/2] building the marts (dbt) and publishing them ...", err=True)
    if build_and_publish(instance, settings, summary):
        read_totals(settings, summary)
        click.echo(f"marts published to {settings.marts_snapshot}")
    for line in summary.lines(time.monotonic() - started):
        click.echo(line)
    raise SystemExit(1 if summary.failures else 0)
