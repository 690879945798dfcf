"""The landing files sensor, and what the webhook log sensor reads and requests (the sensor
itself is in `pipeline.defs.automation`: it also decides whether its run builds the marts).

Sensors only read files and the Dagster instance: they never open DuckDB (the warehouse has one
writer), and a tick costs a directory scan plus reading what is new.
No `from __future__ import annotations` here: Dagster reads the resource annotations at
definition time.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from pipeline.defs.ingest.assets import IngestAssets, webhook_run_config
from pipeline.defs.ingest.partitions import LANDING_PATH_TAG
from pipeline.ingest.landing import (
    LandingCursor,
    PendingFile,
    describe_new,
    scan_landing,
    select_new,
)
from pipeline.ingest.webhook_scan import LogPosition, new_complete_lines
from pipeline.settings import Settings

# Ticks only stat files and read new log lines, so they can be frequent: freshness is the
# sum of this interval, a run start, and the build.
SENSOR_INTERVAL_SECONDS = 5


def landing_run_request(ingest: IngestAssets, pending: PendingFile) -> dg.RunRequest:
    """The run that loads one file content. The run key is its SHA-256 and change time: the
    same drop is requested once, and the same content dropped again after it was forgotten
    loads again."""
    return dg.RunRequest(
        run_key=f"{pending.sha256}:{pending.file.changed_ns}",
        job_name=ingest.landing_jobs[pending.export].name,
        partition_key=pending.sha256,
        tags={LANDING_PATH_TAG: pending.file.rel_path},
    )


def landing_requests(
    ingest: IngestAssets, pending: Sequence[PendingFile]
) -> tuple[list[dg.RunRequest], list[dg.AddDynamicPartitionsRequest]]:
    """One run per new file content, and the partitions those runs need."""
    runs = [landing_run_request(ingest, p) for p in pending]
    keys = {
        export: [p.sha256 for p in pending if p.export == export] for export in ingest.partitions
    }
    partitions = [ingest.partitions[e].build_add_request(k) for e, k in keys.items() if k]
    return runs, partitions


def _known_contents(ingest: IngestAssets, instance: dg.DagsterInstance) -> set[str]:
    return {
        key
        for partitions in ingest.partitions.values()
        for key in instance.get_dynamic_partitions(partitions.name)
    }


def landing_files_sensor(ingest: IngestAssets) -> dg.SensorDefinition:
    """The sensor that loads one pipeline's new landing files."""
    scope = ingest.scope

    @dg.sensor(
        name=scope.name("landing_files_sensor"),
        jobs=list(ingest.landing_jobs.values()),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    )
    def _sensor(
        context: dg.SensorEvaluationContext, settings: dg.ResourceParam[Settings]
    ) -> dg.SensorResult:
        """Request a load for every new, complete file in the landing folder.

        Each content is requested once (run key = SHA-256), so the same export dropped under
        two names loads once.
        """
        landing_dir = scope.settings(settings).landing_dir
        cursor = LandingCursor.from_json(context.cursor)
        batch, next_cursor = select_new(scan_landing(landing_dir), cursor, time.time_ns())
        pending = describe_new(batch, _known_contents(ingest, context.instance)) if batch else []
        if skipped := len(batch) - len(pending):
            context.log.info(f"{skipped} new file(s) skipped: content already requested, or gone")
        runs, partitions = landing_requests(ingest, pending)
        if not runs:
            return dg.SensorResult(skip_reason="no new files to load", cursor=next_cursor.to_json())
        return dg.SensorResult(
            run_requests=runs, dynamic_partitions_requests=partitions, cursor=next_cursor.to_json()
        )

    return _sensor


def webhook_days_request(
    ingest: IngestAssets,
    days: Sequence[date],
    run_key: str | None = None,
    job_name: str | None = None,
) -> dg.RunRequest:
    """One run of `job_name` (default: the load; or a job that loads and builds) for `days`."""
    return dg.RunRequest(
        run_key=run_key,
        job_name=job_name or ingest.webhook_job.name,
        run_config=webhook_run_config(ingest.webhook, days),
    )


@dataclass(frozen=True)
class NewWebhookLines:
    """What a webhook sensor tick found: the days with new complete lines, the run key for
    them (the log positions they span) and the cursor after them."""

    days: list[date]
    run_key: str
    cursor: str | None


def new_webhook_lines(cursor: str | None, webhooks_dir: Path) -> NewWebhookLines:
    """The days whose log segments gained complete lines since `cursor`, a (segment, byte
    offset) pair: however many days a replayed history spans, they go to a single run."""
    position = LogPosition.from_json(cursor)
    days, end = new_complete_lines(webhooks_dir, position, until=datetime.now(UTC).date())
    start = f"{position.segment}:{position.offset}" if position else "start"
    run_key = f"{start}->{end.segment}:{end.offset}" if end else ""
    return NewWebhookLines(days, run_key, end.to_json() if end else None)
