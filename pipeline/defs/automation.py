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

from pipeline.defs.ingest.assets import IngestAssets
from pipeline.defs.ingest.sensors import (
    SENSOR_INTERVAL_SECONDS,
    new_webhook_lines,
    webhook_days_request,
)
from pipeline.settings import Settings

BUILD_TRIGGER_TAG = "ltv/raw_storage_id"
ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


class Automation:
    """One pipeline's build jobs and the two sensors that request them."""

    def __init__(self, ingest: IngestAssets) -> None:
        self.ingest = ingest
        self.raw_keys = [asset.key for asset in ingest.all]
        selection = dg.AssetSelection.assets(*self.raw_keys).downstream(include_self=False)
        name = ingest.scope.name
        self.build_marts = dg.define_asset_job(
            name("build_marts"),
            selection=selection,
            executor_def=dg.in_process_executor,
            description="Build every dbt model and its tests, then publish the snapshot, the "
            "report and the dbt docs. Requested by marts_build_sensor after each raw change.",
        )
        self.load_webhooks_and_build = dg.define_asset_job(
            name("load_webhooks_and_build"),
            selection=dg.AssetSelection.assets(ingest.webhook) | selection,
            executor_def=dg.in_process_executor,
            description="Load the webhook log days in the run config, then build and publish "
            "as build_marts does: one run from a webhook to the snapshot. Requested by "
            "webhook_log_sensor when no build is queued or running.",
        )
        self.build_jobs = [self.build_marts.name, self.load_webhooks_and_build.name]
        self.marts_build_sensor = self._marts_build_sensor()
        self.webhook_log_sensor = self._webhook_log_sensor()

    def latest_raw_record(self, instance: dg.DagsterInstance) -> dg.EventLogRecord | None:
        """The newest raw materialization (None when raw was never loaded)."""
        fetch = instance.fetch_materializations
        records = [r for key in self.raw_keys for r in fetch(key, limit=1).records]
        return max(records, key=lambda record: record.storage_id, default=None)

    def build_in_progress(self, instance: dg.DagsterInstance) -> bool:
        """Whether a build is queued or running: it will be followed up, not doubled."""
        for job_name in self.build_jobs:
            runs = dg.RunsFilter(job_name=job_name, statuses=ACTIVE_STATUSES)
            if instance.get_run_ids(runs, limit=1):
                return True
        return False

    def built_by_its_own_run(self, instance: dg.DagsterInstance, run_id: str) -> bool:
        """Whether the run that recorded a raw materialization went on to build and succeeded.

        Loads go through the warehouse's single slot, so every load recorded before such a
        run's build began is in that build too.
        """
        run = instance.get_run_by_id(run_id)
        return (
            run is not None
            and run.job_name == self.load_webhooks_and_build.name
            and run.status == dg.DagsterRunStatus.SUCCESS
        )

    def _marts_build_sensor(self) -> dg.SensorDefinition:
        @dg.sensor(
            name=self.ingest.scope.name("marts_build_sensor"),
            job=self.build_marts,
            default_status=dg.DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        )
        def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
            """Request one build when raw changed since the last build this sensor requested
            or the run that loaded it made.

            A failed or rejected load materializes nothing, so it neither triggers nor blocks a
            build.
            """
            latest = self.latest_raw_record(context.instance)
            if latest is None or latest.storage_id <= int(context.cursor or 0):
                return dg.SensorResult(skip_reason="no raw change since the last build")
            if self.build_in_progress(context.instance):
                return dg.SensorResult(
                    skip_reason="a build is queued or running; the next tick follows"
                )
            cursor = str(latest.storage_id)
            if self.built_by_its_own_run(context.instance, latest.run_id):
                return dg.SensorResult(
                    skip_reason="the run that loaded it built the marts", cursor=cursor
                )
            request = dg.RunRequest(run_key=f"raw-{cursor}", tags={BUILD_TRIGGER_TAG: cursor})
            return dg.SensorResult(run_requests=[request], cursor=cursor)

        return _sensor

    def _webhook_log_sensor(self) -> dg.SensorDefinition:
        scope = self.ingest.scope

        @dg.sensor(
            name=scope.name("webhook_log_sensor"),
            jobs=[self.ingest.webhook_job, self.load_webhooks_and_build],
            default_status=dg.DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        )
        def _sensor(
            context: dg.SensorEvaluationContext, settings: dg.ResourceParam[Settings]
        ) -> dg.SensorResult:
            """Request one run for the days whose log segments gained complete lines: one that
            loads and builds, or, while a build is queued or running, one that loads (the build
            sensor follows it up once that build ends)."""
            found = new_webhook_lines(context.cursor, scope.settings(settings).webhooks_dir)
            if not found.days:
                return dg.SensorResult(
                    skip_reason="no new complete lines in the webhook log", cursor=found.cursor
                )
            building = self.build_in_progress(context.instance)
            job = self.ingest.webhook_job if building else self.load_webhooks_and_build
            request = webhook_days_request(self.ingest, found.days, found.run_key, job.name)
            return dg.SensorResult(run_requests=[request], cursor=found.cursor)

        return _sensor

    def definitions(self) -> dg.Definitions:
        return dg.Definitions(
            jobs=[self.build_marts, self.load_webhooks_and_build],
            sensors=[self.marts_build_sensor, self.webhook_log_sensor],
        )
