"""The raw assets: one per export kind (a partition per file content) and the webhook log
(the days a run is given), with the jobs the sensors launch. The loading itself lives in
`pipeline.ingest`; these assets find the input, call it and report what it did.

Every asset opens its pipeline's warehouse, so all of them are in its single-writer pool.
No `from __future__ import annotations` here: Dagster reads the resource annotations at
definition time.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from pydantic import Field

from pipeline import markdown
from pipeline.defs.ingest.partitions import LANDING_PATH_TAG, landing_partitions
from pipeline.defs.resources import WarehouseResource
from pipeline.defs.scope import Scope
from pipeline.ingest.csv_load import (
    ContentChanged,
    ExportFile,
    LoadedExport,
    WrongExport,
    archive,
    ledger_entry,
)
from pipeline.ingest.headers import SUBSCRIPTIONS, TRANSACTIONS
from pipeline.ingest.input_load import load_landing_file
from pipeline.ingest.landing import find_content
from pipeline.ingest.rejection import FileRejected, move_to_rejected
from pipeline.ingest.webhook_load import SegmentLoad, load_webhook_days, loaded_segment_sizes
from pipeline.ingest.webhook_scan import days_to_load, describe_days
from pipeline.settings import Settings
from pipeline.warehouse import ensure_raw_schema


def utc_now() -> datetime:
    """Naive UTC, the convention of every TIMESTAMP in the warehouse."""
    return datetime.now(UTC).replace(tzinfo=None)


# --- landing files ----------------------------------------------------------------------------


def _locate(
    context: dg.AssetExecutionContext,
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    sha256: str,
) -> ExportFile:
    """Where the content of this partition is now: the path the sensor saw, the path (or
    archive) the ledger remembers, or, if it moved, wherever in the landing folder it is."""
    landing = settings.landing_dir
    candidates: list[tuple[Path, str]] = []
    if tagged := context.run.tags.get(LANDING_PATH_TAG):
        candidates.append((landing / tagged, tagged))
    if entry := ledger_entry(con, sha256):
        rel_path, archived_to = entry
        candidates.append((landing / rel_path, rel_path))
        if archived_to:
            candidates.append((Path(archived_to), rel_path))
    for path, rel_path in candidates:
        if path.is_file():
            return ExportFile(path, rel_path, sha256)
    if found := find_content(landing, sha256):
        return ExportFile(found.path, found.rel_path, sha256)
    last_seen = f" (last seen as {candidates[0][1]})" if candidates else ""
    raise dg.Failure(
        description=(
            f"No file with content {sha256} is in the landing folder any more{last_seen}. If "
            "it was rejected, its note is in landing/rejected/; drop the fixed file again."
        )
    )


def _landing_metadata(
    file: ExportFile, loaded: LoadedExport, archived: Path | None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "file": file.rel_path,
        "sha256": file.sha256,
        "dagster/row_count": loaded.rows,
        "rows": loaded.rows,
        "rejected_rows": loaded.rejected,
        "kind": loaded.kind or loaded.export,
        "encoding": loaded.encoding,
        "delimiter": repr(loaded.delimiter),
        "missing_columns": ", ".join(loaded.missing) or "none",
        "extra_columns": ", ".join(loaded.extra) or "none",
        "preview": dg.MetadataValue.md(markdown.table(loaded.preview)),
    }
    if loaded.rejected_sample:
        sample = [f"line {line}: {reason}" for line, reason in loaded.rejected_sample]
        metadata["rejected_sample"] = dg.MetadataValue.md(markdown.bullets(sample))
    if loaded.notes:
        metadata["notes"] = dg.MetadataValue.md(markdown.bullets(loaded.notes))
    if archived:
        metadata["archived_to"] = str(archived)
    return metadata


def _load_landing_file(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    settings: Settings,
    export: str,
) -> dg.MaterializeResult:
    """Load this partition's file; a bad file moves to rejected/ and fails the run."""
    with warehouse.connect(on_wait=context.log.warning) as con:
        ensure_raw_schema(con)
        file = _locate(context, con, settings, context.partition_key)
        try:
            loaded = load_landing_file(con, file, export, utc_now(), settings.csv_date_order)
        except FileRejected as exc:
            moved = move_to_rejected(
                file.path, file.rel_path, settings.rejected_dir, exc, file.sha256
            )
            raise dg.Failure(
                description=f"{file.rel_path} was rejected: {exc}",
                metadata={"file": file.rel_path, "moved_to": str(moved), "fix": exc.fix},
            ) from exc
        except (ContentChanged, WrongExport) as exc:
            raise dg.Failure(description=str(exc)) from exc
        archived = None
        if settings.archive_dir and file.path.is_relative_to(settings.landing_dir):
            archived = archive(file, settings.archive_dir, con)
    for note in loaded.notes:
        context.log.warning(note)
    return dg.MaterializeResult(metadata=_landing_metadata(file, loaded, archived))


# Raw tables and descriptions of the two ThriveCart exports; the cost, ad spend and rate
# files (docs/costs.md) are named by their kind.
LANDING_TABLES = {
    TRANSACTIONS: "thrivecart_transactions",
    SUBSCRIPTIONS: "thrivecart_subscriptions",
}
LANDING_DESCRIPTIONS = {
    TRANSACTIONS: "Every Transactions export dropped in the landing folder, one partition per "
    "file content. Columns as text under their raw names, unknown columns in `_extra`, plus "
    "lineage.",
    SUBSCRIPTIONS: "Every Subscriptions export, one partition per file content; `kind` "
    "(recurring, limited, unknown) comes from the folder the file was dropped in.",
}


def _landing_asset(
    scope: Scope, export: str, partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    """The raw asset of one kind of landing file, one partition per file content."""

    @dg.asset(
        key=scope.key("raw", LANDING_TABLES.get(export, export)),
        partitions_def=partitions,
        pool=scope.pool,
        group_name=scope.name("raw"),
        kinds={"duckdb", "csv"},
        description=LANDING_DESCRIPTIONS.get(export)
        or (
            f"Every {export.replace('_', ' ')} file dropped in the landing folder (docs/costs.md), "
            "typed and validated, one partition per file content."
        ),
    )
    def _asset(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        settings: dg.ResourceParam[Settings],
    ) -> dg.MaterializeResult:
        scoped = scope.settings(settings)
        return _load_landing_file(context, warehouse.for_settings(scoped), scoped, export)

    return _asset


# --- webhook log ------------------------------------------------------------------------------


class WebhookDays(dg.Config):
    """Which UTC days of the webhook log a run loads."""

    days: list[str] = Field(
        default_factory=list,
        description="UTC days (YYYY-MM-DD) whose log segments to load, again if already "
        "loaded. Empty: every segment that grew since it was last loaded.",
    )
    all_days: bool = Field(
        default=False, description="Load every segment in the log again, whatever `days` says."
    )

    def requested_days(self) -> list[date]:
        """The days in `days`; a run with a malformed one fails naming the field."""
        try:
            return [date.fromisoformat(day) for day in self.days]
        except ValueError as exc:
            raise dg.Failure(
                description=f"config `days`: {exc}; give UTC days as YYYY-MM-DD, or none to load "
                "every segment that grew."
            ) from exc


def webhook_run_config(asset: dg.AssetsDefinition, days: Sequence[date]) -> dict[str, Any]:
    """The run config that makes a run load `days` (for any job holding the webhook `asset`)."""
    return {"ops": {asset.op.name: {"config": {"days": [day.isoformat() for day in sorted(days)]}}}}


def _webhook_metadata(days: list[date], loads: list[SegmentLoad]) -> dict[str, Any]:
    """Figures for the whole run, recorded once however many days it loaded."""
    table = [
        {
            "segment": load.segment,
            "lines": load.lines,
            "events": load.events,
            "new events": load.new_events,
            "duplicates": load.duplicates,
            "rejected": load.rejected,
        }
        for load in loads
    ]
    return {
        "days_in_run": describe_days(days),
        "segments_in_run": len(loads),
        "events_in_run": sum(load.events for load in loads),
        "new_events_in_run": sum(load.new_events for load in loads),
        "duplicate_deliveries_in_run": sum(load.duplicates for load in loads),
        "rejected_lines_in_run": sum(load.rejected for load in loads),
        "segments": dg.MetadataValue.md(markdown.table(table[:50])),
    }


def _webhook_asset(scope: Scope) -> dg.AssetsDefinition:
    @dg.asset(
        key=scope.key("raw", "thrivecart_webhook_events"),
        pool=scope.pool,
        group_name=scope.name("raw"),
        kinds={"duckdb"},
    )
    def raw_thrivecart_webhook_events(
        context: dg.AssetExecutionContext,
        config: WebhookDays,
        warehouse: WarehouseResource,
        settings: dg.ResourceParam[Settings],
    ) -> dg.MaterializeResult:
        """Every webhook delivery the sidecar logged, once per delivery id, from the log's
        daily segments (UTC days). A run loads the days in its config, or every segment that
        grew, and records one materialization naming them: a replayed history of years is one
        event."""
        scoped = scope.settings(settings)
        return _load_webhook_days(context, config, warehouse.for_settings(scoped), scoped)

    return raw_thrivecart_webhook_events


def _load_webhook_days(
    context: dg.AssetExecutionContext,
    config: WebhookDays,
    warehouse: WarehouseResource,
    settings: Settings,
) -> dg.MaterializeResult:
    requested = config.requested_days()
    with warehouse.connect(on_wait=context.log.warning) as con:
        ensure_raw_schema(con)
        loaded = loaded_segment_sizes(con)
        days = days_to_load(settings.webhooks_dir, loaded, requested, config.all_days)
        loads = load_webhook_days(con, settings.landing_dir, settings.webhooks_dir, days, utc_now())
    for load in loads:
        if load.rejected:
            context.log.warning(
                f"{load.segment}: {load.rejected} line(s) are not webhook records; see "
                "raw.rejected_rows"
            )
    return dg.MaterializeResult(metadata=_webhook_metadata(days, loads))


@dataclass(frozen=True)
class IngestAssets:
    """One pipeline's raw assets and the jobs the sensors launch for them."""

    scope: Scope
    partitions: dict[str, dg.DynamicPartitionsDefinition]
    landing: dict[str, dg.AssetsDefinition]
    # Jobs of `dg.define_asset_job` (whose class dagster does not export), one process per
    # run: every step needs the single warehouse slot anyway, so step subprocesses would only
    # add start-up time.
    landing_jobs: dict[str, Any]
    webhook: dg.AssetsDefinition
    webhook_job: Any

    @property
    def all(self) -> list[dg.AssetsDefinition]:
        return [*self.landing.values(), self.webhook]


def ingest_assets(scope: Scope) -> IngestAssets:
    """The raw assets of `scope`'s pipeline, with their partition sets and jobs."""
    partitions = landing_partitions(scope)
    landing = {export: _landing_asset(scope, export, p) for export, p in partitions.items()}
    jobs = {
        export: dg.define_asset_job(
            scope.name(f"load_{export}_file"),
            selection=[asset],
            executor_def=dg.in_process_executor,
        )
        for export, asset in landing.items()
    }
    webhook = _webhook_asset(scope)
    webhook_job = dg.define_asset_job(
        scope.name("load_webhook_days"), selection=[webhook], executor_def=dg.in_process_executor
    )
    return IngestAssets(scope, partitions, landing, jobs, webhook, webhook_job)
