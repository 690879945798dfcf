"""Forgetting landing files from Dagster: the `forget_landing_files` job and the sensor that
launches it when a loaded file disappears from the landing folder.

The rule and the deletion live in `pipeline.ingest.forget`. The job records one raw
materialization per forgotten file (metadata `forgotten`), which is what makes
`marts_build_sensor` rebuild the marts without the file, and deletes the file's partition so
the same content dropped again later loads again.
No `from __future__ import annotations` here: Dagster reads the resource annotations at
definition time.
"""

import hashlib
from pathlib import Path

import dagster as dg
from pydantic import Field

from pipeline.defs.ingest.assets import IngestAssets
from pipeline.defs.resources import WarehouseResource
from pipeline.ingest.forget import Forgotten, NotLoaded, forget_files, forget_gone
from pipeline.settings import Settings

# Removal is rarer than arrival and needs a look at every loaded file: a slower tick.
REMOVAL_INTERVAL_SECONDS = 30


class ForgetConfig(dg.Config):
    """Which loaded files to forget: paths in the landing folder or SHA-256 prefixes. Empty:
    every loaded file whose file is gone from the landing folder."""

    files: list[str] = Field(default_factory=list)


def record_forgotten(
    ingest: IngestAssets, instance: dg.DagsterInstance, forgotten: list[Forgotten]
) -> None:
    """Delete the forgotten contents' partitions, so a later drop of the same file loads."""
    for file in forgotten:
        instance.delete_dynamic_partition(ingest.partitions[file.export].name, file.sha256)


def forget_job(ingest: IngestAssets) -> dg.JobDefinition:
    """The job that forgets files of one pipeline."""
    scope = ingest.scope

    @dg.op(name=scope.name("forget_landing_files_op"), pool=scope.pool)
    def forget_landing_files_op(
        context: dg.OpExecutionContext,
        config: ForgetConfig,
        warehouse: WarehouseResource,
        settings: dg.ResourceParam[Settings],
    ) -> None:
        """Remove the chosen (or the gone) files' rows from raw; the marts rebuild after it."""
        settings = scope.settings(settings)
        with warehouse.for_settings(settings).connect(on_wait=context.log.warning) as con:
            try:
                if config.files:
                    forgotten = forget_files(
                        con, settings.landing_dir, settings.rejected_dir, config.files
                    )
                else:
                    forgotten = forget_gone(con, settings.landing_dir)
            except NotLoaded as exc:
                raise dg.Failure(description=str(exc)) from exc
        for file in forgotten:
            context.log.info(f"forgotten: {file.path} ({file.rows:,} rows removed from raw)")
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=ingest.landing[file.export].key,
                    partition=file.sha256,
                    metadata={"file": file.path, "forgotten": True, "rows_removed": file.rows},
                )
            )
        record_forgotten(ingest, context.instance, forgotten)

    @dg.job(
        name=scope.name("forget_landing_files"),
        description="Remove loaded landing files' rows from raw (config: files), then the "
        "marts rebuild without them. Empty files: every loaded file gone from the folder.",
    )
    def forget_landing_files() -> None:
        forget_landing_files_op()

    return forget_landing_files


def _still_there(metadata: dict, landing_dir: Path) -> bool:
    """Whether a load's file (its archived copy, if it was archived) still exists."""
    if "archived_to" in metadata:
        return Path(str(metadata["archived_to"].value)).is_file()
    return (landing_dir / str(metadata["file"].value)).is_file()


def _gone_contents(
    ingest: IngestAssets, instance: dg.DagsterInstance, landing_dir: Path
) -> list[str]:
    """Loaded contents whose file (as their latest load recorded it) is no longer there."""
    gone = []
    for export, asset in ingest.landing.items():
        partitions = set(instance.get_dynamic_partitions(ingest.partitions[export].name))
        records = instance.fetch_materializations(asset.key, limit=max(len(partitions), 1) * 4)
        seen: set[str] = set()
        for record in records.records:  # newest first
            partition = record.partition_key
            if partition not in partitions or partition in seen:
                continue
            seen.add(partition)
            metadata = record.asset_materialization.metadata
            loaded = "file" in metadata and "forgotten" not in metadata
            if loaded and not _still_there(metadata, landing_dir):
                gone.append(partition)
    return sorted(gone)


def landing_removals_sensor(ingest: IngestAssets, job: dg.JobDefinition) -> dg.SensorDefinition:
    """The sensor that forgets one pipeline's files gone from its landing folder."""
    scope = ingest.scope

    @dg.sensor(
        name=scope.name("landing_removals_sensor"),
        job=job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=REMOVAL_INTERVAL_SECONDS,
    )
    def _sensor(
        context: dg.SensorEvaluationContext, settings: dg.ResourceParam[Settings]
    ) -> dg.SensorResult:
        """Request one forget run when loaded files disappeared from the landing folder.

        Reads file metadata from the instance and stats files; never opens DuckDB. The run
        checks the ledger again, so a file that was only renamed keeps its rows.
        """
        landing_dir = scope.settings(settings).landing_dir
        gone = _gone_contents(ingest, context.instance, landing_dir)
        if not gone:
            return dg.SensorResult(skip_reason="no loaded file is gone from the landing folder")
        run_key = "forget:" + hashlib.sha256(" ".join(gone).encode()).hexdigest()[:16]
        return dg.SensorResult(run_requests=[dg.RunRequest(run_key=run_key)])

    return _sensor
