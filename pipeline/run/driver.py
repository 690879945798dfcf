"""The work of `ltv run`: the raw assets, the dbt models and the publish assets, in process.

It runs the same assets and checks the sensors launch, one Dagster run per landing file (a
bad file fails only its own run) and one for all pending webhook days, then one run for dbt
and publishing, all on the persistent instance.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import dagster as dg
import duckdb

from pipeline.defs.ingest.forget import record_forgotten
from pipeline.defs.ingest.sensors import landing_run_request, webhook_days_request
from pipeline.defs.pipeline_defs import PipelineDefs, pipeline_defs
from pipeline.defs.resources import pipeline_resources
from pipeline.defs.scope import Scope
from pipeline.ingest.csv_load import loaded_hashes
from pipeline.ingest.forget import forget_gone
from pipeline.ingest.landing import WRITE_WAIT_SECONDS, pending_files, wait_for_writes
from pipeline.ingest.webhook_load import loaded_segment_sizes
from pipeline.ingest.webhook_scan import pending_webhook_days
from pipeline.run.summary import RunSummary
from pipeline.run.unchanged import inputs_fingerprint, unchanged_build
from pipeline.settings import Settings
from pipeline.warehouse import connect, ensure_raw_schema

# dbt's own progress lines stay; Dagster's per-event debug lines belong in the UI, not here.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# Files found settled or watched until they stopped changing: load them whatever their age.
_EVERYTHING_SETTLED_NS = 2**62


def ingest_pending(
    instance: dg.DagsterInstance,
    settings: Settings,
    run_config: Mapping[str, Any] | None = None,
    *,
    skip: Collection[str] = (),
    on_wait: Callable[[str], None] | None = None,
) -> list[dg.ExecuteInProcessResult]:
    """Load everything pending, in-process, through the same assets and checks as the sensors.

    Pending: landing files (but those in `skip`) whose content the ledger lacks, and log
    segments that grew past what was loaded. One run per file and one run for all pending
    webhook days, each with `run_config`. Returns every run's result; none raises.
    """
    con = connect(settings.warehouse, memory_limit=settings.memory_limit, on_wait=on_wait)
    try:
        ensure_raw_schema(con)
        known, sizes = loaded_hashes(con), loaded_segment_sizes(con)
    finally:
        con.close()
    resources = pipeline_resources(settings)
    defs = defs_of(settings)
    ingest = defs.ingest
    results = []
    for pending in pending_files(settings.landing_dir, known, _EVERYTHING_SETTLED_NS, skip):
        instance.add_dynamic_partitions(ingest.partitions[pending.export].name, [pending.sha256])
        asset = ingest.landing[pending.export]
        request = landing_run_request(ingest, pending)
        assets = [asset, *defs.checks_for(asset)]
        results.append(_materialize(assets, request, instance, resources, run_config))
    if days := pending_webhook_days(settings.webhooks_dir, sizes):
        assets = [ingest.webhook, *defs.checks_for(ingest.webhook)]
        request = webhook_days_request(ingest, days)
        results.append(_materialize(assets, request, instance, resources, run_config))
    return results


def defs_of(settings: Settings) -> PipelineDefs:
    """The Dagster objects of the pipeline `settings` are scoped to."""
    return pipeline_defs(Scope(settings.account))


def _materialize(
    assets: list[Any],
    request: dg.RunRequest,
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    run_config: Mapping[str, Any] | None,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets,
        run_config={**(run_config or {}), **request.run_config},
        partition_key=request.partition_key,
        tags=request.tags,
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )


def failure_messages(results: Sequence[dg.ExecuteInProcessResult]) -> list[str]:
    """Why each failed run failed, in the words the Dagster UI shows."""
    messages = []
    for result in results:
        for event in result.all_events:
            if event.is_step_failure:
                failure = event.step_failure_data
                described = failure.user_failure_data and failure.user_failure_data.description
                messages.append(described or failure.error.message.strip())
    return messages


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    events = result.get_asset_materialization_events()
    if not events:
        return {}
    return {k: getattr(v, "value", v) for k, v in events[0].materialization.metadata.items()}


def ingest(
    instance: dg.DagsterInstance,
    settings: Settings,
    summary: RunSummary,
    *,
    echo: Callable[[str], None] = lambda line: None,
    write_wait: float = WRITE_WAIT_SECONDS,
) -> None:
    """Wait for files still being written, load everything pending, count it in `summary`."""

    def waiting_for(paths: list[str]) -> None:
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        echo(f"waiting for {len(paths)} file(s) still being written: {shown}")

    still_writing = wait_for_writes(settings.landing_dir, timeout=write_wait, on_wait=waiting_for)
    forget_removed(instance, settings, summary, echo)
    summary.not_loaded += [
        f"{path}: still being written after {write_wait:g} s; run ltv run again once it is complete"
        for path in still_writing
    ]
    for result in ingest_pending(
        instance, settings, QUIET_RUN_CONFIG, skip=still_writing, on_wait=echo
    ):
        _count(result, summary)


def forget_removed(
    instance: dg.DagsterInstance,
    settings: Settings,
    summary: RunSummary,
    echo: Callable[[str], None],
) -> None:
    """Remove from raw the loaded files that are gone from the landing folder."""
    con = connect(settings.warehouse, memory_limit=settings.memory_limit, on_wait=echo)
    try:
        ensure_raw_schema(con)
        forgotten = forget_gone(con, settings.landing_dir)
    finally:
        con.close()
    record_forgotten(defs_of(settings).ingest, instance, forgotten)
    summary.forgotten += [f"{f.path} ({f.rows:,} rows removed from raw)" for f in forgotten]


def _count(result: dg.ExecuteInProcessResult, summary: RunSummary) -> None:
    metadata = _metadata(result)
    if not result.success:
        summary.failures.extend(failure_messages([result]))
    elif "file" in metadata:
        summary.files_loaded.append(str(metadata["file"]))
        summary.rows_loaded += int(metadata.get("rows") or 0)
        summary.rows_rejected += int(metadata.get("rejected_rows") or 0)
    elif metadata:  # one range run for every pending webhook day: figures are per run
        new = int(metadata.get("new_events_in_run") or 0)
        summary.new_events += new
        summary.reloaded_events += int(metadata.get("events_in_run") or 0) - new
        summary.lines_rejected += int(metadata.get("rejected_lines_in_run") or 0)


def build_and_publish(
    instance: dg.DagsterInstance,
    settings: Settings,
    summary: RunSummary,
    full_refresh: bool = False,
) -> bool:
    """Build the dbt models (with their tests), incrementally unless `full_refresh`, publish
    the snapshot, forecast lifetime value into it, then write the report."""
    defs = defs_of(settings)
    build_config = {"ops": {defs.dbt_models.op.name: {"config": {"full_refresh": full_refresh}}}}
    result = dg.materialize(
        defs.build_assets,
        instance=instance,
        resources=pipeline_resources(settings),
        run_config={**QUIET_RUN_CONFIG, **build_config},
        raise_on_error=False,
    )
    summary.failures.extend(failure_messages([result]))
    return result.success


def built_inputs(
    settings: Settings, on_wait: Callable[[str], None] | None = None
) -> tuple[str, str | None]:
    """The fingerprint of what a build now would be made from, and the id of the published
    build already made from it by the last `ltv run` (None: build)."""
    con = connect(settings.warehouse, memory_limit=settings.memory_limit, on_wait=on_wait)
    try:  # the loads before it created the raw schema
        inputs = inputs_fingerprint(con, settings)
        return inputs, unchanged_build(con, settings, inputs)
    finally:
        con.close()


def read_totals(settings: Settings, summary: RunSummary) -> None:
    """Payments and customers as analysts will see them: from the published snapshot."""
    with duckdb.connect(str(settings.marts_snapshot), read_only=True) as con:
        summary.payments = con.execute("select count(*) from fct_payments").fetchone()[0]
        summary.customers = con.execute(
            "select count(distinct customer_id) from dim_customers"
        ).fetchone()[0]
