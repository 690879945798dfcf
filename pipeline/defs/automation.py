"""Fresh marts with no click: after any raw change, one run builds dbt and publishes.

- `webhook_log_sensor` (on by default) requests one run for the log days that gained complete
  lines: `load_webhooks_and_build`, which loads them and then builds and publishes in the same
  run, or only `load_webhook_days` when a build is already queued or running.
- `marts_build_sensor` (on by default) compares the newest materialization of the raw assets
  with the one the last build saw. When raw moved on, no build is queued or running and the
  run that loaded it did not build, it requests one run of `build_marts`: every dbt model with
  its data tests, the forecast, then the snapshot, the report and the dbt docs, in one process.

Why not declarative automation per asset: raw assets have one partition per landing file, and a
rejected file leaves its partition failed for good, so `eager()` would wait forever; dropping
that clause made automation build dbt subsets before their staging views existed, and a check
left failed by such a subset blocked publishing. One whole build per raw change has none of
these states, and one in-process run starts once instead of once per step.

No `from __future__ import annotations` here: Dagster reads the resource annotations at
definition time.
"""

import dagster as dg

from pipeline.defs.ingest.assets import LANDING_ASSETS, WEBHOOK_JOB, raw_thrivecart_webhook_events
from pipeline.defs.ingest.sensors import (
    SENSOR_INTERVAL_SECONDS,
    new_webhook_lines,
    webhook_days_request,
)
from pipeline.settings import Settings

RAW_KEYS = [asset.key for asset in [*LANDING_ASSETS.values(), raw_thrivecart_webhook_events]]
BUILD_TRIGGER_TAG = "ltv/raw_storage_id"
ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
BUILD_SELECTION = dg.AssetSelection.assets(*RAW_KEYS).downstream(include_self=False)

build_marts = dg.define_asset_job(
    "build_marts",
    selection=BUILD_SELECTION,
    executor_def=dg.in_process_executor,
    description="Build every dbt model and its tests, then publish the snapshot, the report "
    "and the dbt docs. Requested by marts_build_sensor after each raw change.",
)
load_webhooks_and_build = dg.define_asset_job(
    "load_webhooks_and_build",
    selection=dg.AssetSelection.assets(raw_thrivecart_webhook_events) | BUILD_SELECTION,
    executor_def=dg.in_process_executor,
    description="Load the webhook log days in the run config, then build and publish as "
    "build_marts does: one run from a webhook to the snapshot. Requested by "
    "webhook_log_sensor when no build is queued or running.",
)
BUILD_JOBS = [build_marts.name, load_webhooks_and_build.name]


def latest_raw_record(instance: dg.DagsterInstance) -> dg.EventLogRecord | None:
    """The newest raw materialization (None when raw was never loaded)."""
    records = [r for key in RAW_KEYS for r in instance.fetch_materializations(key, limit=1).records]
    return max(records, key=lambda record: record.storage_id, default=None)


def build_in_progress(instance: dg.DagsterInstance) -> bool:
    """Whether a build is queued or running: it will be followed up, not doubled."""
    for job_name in BUILD_JOBS:
        runs = dg.RunsFilter(job_name=job_name, statuses=ACTIVE_STATUSES)
        if instance.get_run_ids(runs, limit=1):
            return True
    return False


def built_by_its_own_run(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Whether the run that recorded a raw materialization went on to build and succeeded.

    Loads go through the warehouse's single slot, so every load recorded before such a run's
    build began is in that build too.
    """
    run = instance.get_run_by_id(run_id)
    return (
        run is not None
        and run.job_name == load_webhooks_and_build.name
        and run.status == dg.DagsterRunStatus.SUCCESS
    )


@dg.sensor(
    job=build_marts,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
)
def marts_build_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Request one build when raw changed since the last build this sensor requested or the
    run that loaded it made.

    A failed or rejected load materializes nothing, so it neither triggers nor blocks a build.
    """
    latest = latest_raw_record(context.instance)
    if latest is None or latest.storage_id <= int(context.cursor or 0):
        return dg.SensorResult(skip_reason="no raw change since the last build")
    if build_in_progress(context.instance):
        return dg.SensorResult(skip_reason="a build is queued or running; the next tick follows")
    cursor = str(latest.storage_id)
    if built_by_its_own_run(context.instance, latest.run_id):
        return dg.SensorResult(skip_reason="the run that loaded it built the marts", cursor=cursor)
    request = dg.RunRequest(run_key=f"raw-{cursor}", tags={BUILD_TRIGGER_TAG: cursor})
    return dg.SensorResult(run_requests=[request], cursor=cursor)


@dg.sensor(
    jobs=[WEBHOOK_JOB, load_webhooks_and_build],
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
)
def webhook_log_sensor(
    context: dg.SensorEvaluationContext, settings: dg.ResourceParam[Settings]
) -> dg.SensorResult:
    """Request one run for the days whose log segments gained complete lines: one that loads
    and builds, or, while a build is queued or running, one that loads (the build sensor
    follows it up once that build ends)."""
    found = new_webhook_lines(context.cursor, settings.webhooks_dir)
    if not found.days:
        return dg.SensorResult(
            skip_reason="no new complete lines in the webhook log", cursor=found.cursor
        )
    job = WEBHOOK_JOB if build_in_progress(context.instance) else load_webhooks_and_build
    request = webhook_days_request(found.days, found.run_key, job.name)
    return dg.SensorResult(run_requests=[request], cursor=found.cursor)


defs = dg.Definitions(
    jobs=[build_marts, load_webhooks_and_build],
    sensors=[marts_build_sensor, webhook_log_sensor],
)
