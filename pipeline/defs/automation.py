"""Fresh marts with no click: after any raw change, one run builds dbt and publishes.

`marts_build_sensor` (on by default) compares the newest materialization of the raw assets
with the one the last build saw. When raw moved on and no build is queued or running, it
requests one run of `build_marts`: every dbt model with its data tests, then the snapshot, the
report and the dbt docs, in one process.

Why not declarative automation per asset: raw assets have one partition per landing file, and a
rejected file leaves its partition failed for good, so `eager()` would wait forever; dropping
that clause made automation build dbt subsets before their staging views existed, and a check
left failed by such a subset blocked publishing. One whole build per raw change has none of
these states, and one in-process run starts once instead of once per step.
"""

from __future__ import annotations

import dagster as dg

from pipeline.defs.ingest.assets import LANDING_ASSETS, raw_thrivecart_webhook_events
from pipeline.defs.ingest.sensors import SENSOR_INTERVAL_SECONDS

RAW_KEYS = [asset.key for asset in [*LANDING_ASSETS.values(), raw_thrivecart_webhook_events]]
BUILD_TRIGGER_TAG = "ltv/raw_storage_id"
ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]

build_marts = dg.define_asset_job(
    "build_marts",
    selection=dg.AssetSelection.assets(*RAW_KEYS).downstream(include_self=False),
    executor_def=dg.in_process_executor,
    description="Build every dbt model and its tests, then publish the snapshot, the report "
    "and the dbt docs. Requested by marts_build_sensor after each raw change.",
)


def latest_raw_storage_id(instance: dg.DagsterInstance) -> int:
    """The event-log id of the newest raw materialization (0 when raw was never loaded)."""
    latest = 0
    for key in RAW_KEYS:
        records = instance.fetch_materializations(key, limit=1).records
        if records:
            latest = max(latest, records[0].storage_id)
    return latest


def build_in_progress(instance: dg.DagsterInstance) -> bool:
    """Whether a build is queued or running: it will be followed up, not doubled."""
    runs = dg.RunsFilter(job_name=build_marts.name, statuses=ACTIVE_STATUSES)
    return bool(instance.get_run_ids(runs, limit=1))


@dg.sensor(
    job=build_marts,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
)
def marts_build_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Request one build when raw changed since the last build this sensor requested.

    A failed or rejected load materializes nothing, so it neither triggers nor blocks a build.
    """
    latest = latest_raw_storage_id(context.instance)
    if latest <= int(context.cursor or 0):
        return dg.SensorResult(skip_reason="no raw change since the last build")
    if build_in_progress(context.instance):
        return dg.SensorResult(skip_reason="a build is queued or running; the next tick follows")
    request = dg.RunRequest(run_key=f"raw-{latest}", tags={BUILD_TRIGGER_TAG: str(latest)})
    return dg.SensorResult(run_requests=[request], cursor=str(latest))


defs = dg.Definitions(jobs=[build_marts], sensors=[marts_build_sensor])
