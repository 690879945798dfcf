"""Dagster side of ingestion: raw assets, the two sensors that feed them, and their checks.

- `raw/thrivecart_transactions`, `raw/thrivecart_subscriptions`: one dynamic partition per
  landing file content (its SHA-256), loaded by `landing_files_sensor`.
- `raw/thrivecart_webhook_events`: one daily partition per log segment, loaded by
  `webhook_log_sensor`; a tick requests all new days as one single-run partition range.
Every asset and check opens the warehouse, so all of them are in the single-writer pool.
The logic lives in `pipeline.ingest`; this module only wires it to Dagster.
"""

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from pipeline.defs import WAREHOUSE_POOL
from pipeline.defs.resources import WarehouseResource
from pipeline.ingest import raw_checks
from pipeline.ingest.csv_load import (
    ContentChanged,
    ExportFile,
    LoadedExport,
    WrongExport,
    archive,
    ledger_entry,
    load_export,
    loaded_hashes,
)
from pipeline.ingest.headers import SUBSCRIPTIONS, TRANSACTIONS
from pipeline.ingest.landing import (
    LandingCursor,
    PendingFile,
    describe_new,
    find_content,
    pending_files,
    scan_landing,
    select_new,
)
from pipeline.ingest.rejection import FileRejected, move_to_rejected
from pipeline.ingest.webhook_load import SegmentLoad, load_webhook_days, loaded_segment_sizes
from pipeline.ingest.webhook_scan import LogPosition, new_complete_lines, pending_webhook_days
from pipeline.settings import Settings, load_settings
from pipeline.warehouse import connect, ensure_raw_schema

TRANSACTIONS_FILES = dg.DynamicPartitionsDefinition(name="transactions_files")
SUBSCRIPTIONS_FILES = dg.DynamicPartitionsDefinition(name="subscriptions_files")
LANDING_PARTITIONS = {TRANSACTIONS: TRANSACTIONS_FILES, SUBSCRIPTIONS: SUBSCRIPTIONS_FILES}
# ThriveCart launched in 2016: no webhook can be older. The last partition is today (UTC).
WEBHOOK_HISTORY_START = date(2016, 1, 1)
WEBHOOK_DAYS = dg.DailyPartitionsDefinition(
    start_date=WEBHOOK_HISTORY_START.isoformat(), end_offset=1
)
# Which landing file a run should read; without it the asset looks the content up.
LANDING_PATH_TAG = "ltv/landing_path"
# Dagster's tags for one run over a partition range (what a single-run backfill sets).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# Ticks only stat files and read new log lines, so they can be frequent: freshness is the
# sum of this interval, a run start, and the build.
SENSOR_INTERVAL_SECONDS = 5

_log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    """Naive UTC, the convention of every TIMESTAMP in the warehouse."""
    return datetime.now(UTC).replace(tzinfo=None)


def _markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "(no rows)"
    columns = list(rows[0])

    def cell(value: Any) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _bullets(items: Sequence[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


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
        "preview": dg.MetadataValue.md(_markdown_table(loaded.preview)),
    }
    if loaded.rejected_sample:
        sample = [f"line {line}: {reason}" for line, reason in loaded.rejected_sample]
        metadata["rejected_sample"] = dg.MetadataValue.md(_bullets(sample))
    if loaded.notes:
        metadata["notes"] = dg.MetadataValue.md(_bullets(loaded.notes))
    if archived:
        metadata["archived_to"] = str(archived)
    return metadata


def _load_landing_file(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, export: str
) -> dg.MaterializeResult:
    """Load this partition's file; a bad file moves to rejected/ and fails the run."""
    settings = load_settings()
    with warehouse.connect() as con:
        ensure_raw_schema(con)
        file = _locate(context, con, settings, context.partition_key)
        try:
            loaded = load_export(con, file, export, _utc_now())
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


@dg.asset(
    key=["raw", "thrivecart_transactions"],
    partitions_def=TRANSACTIONS_FILES,
    pool=WAREHOUSE_POOL,
    group_name="raw",
    kinds={"duckdb", "csv"},
)
def raw_thrivecart_transactions(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every Transactions export dropped in the landing folder, one partition per file content.

    Columns as text under their raw names, unknown columns in `_extra`, plus lineage.
    """
    return _load_landing_file(context, warehouse, TRANSACTIONS)


@dg.asset(
    key=["raw", "thrivecart_subscriptions"],
    partitions_def=SUBSCRIPTIONS_FILES,
    pool=WAREHOUSE_POOL,
    group_name="raw",
    kinds={"duckdb", "csv"},
)
def raw_thrivecart_subscriptions(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every Subscriptions export, one partition per file content; `kind` from its folder."""
    return _load_landing_file(context, warehouse, SUBSCRIPTIONS)


LANDING_ASSETS = {
    TRANSACTIONS: raw_thrivecart_transactions,
    SUBSCRIPTIONS: raw_thrivecart_subscriptions,
}
# One process per run: every step needs the single warehouse slot anyway, so step subprocesses
# would only add start-up time.
LANDING_JOBS = {
    export: dg.define_asset_job(
        f"load_{export}_file", selection=[asset], executor_def=dg.in_process_executor
    )
    for export, asset in LANDING_ASSETS.items()
}


def landing_run_request(pending: PendingFile) -> dg.RunRequest:
    """The run that loads one file content (run key = its SHA-256, so it is requested once)."""
    return dg.RunRequest(
        run_key=pending.sha256,
        job_name=LANDING_JOBS[pending.export].name,
        partition_key=pending.sha256,
        tags={LANDING_PATH_TAG: pending.file.rel_path},
    )


def landing_requests(
    pending: Sequence[PendingFile],
) -> tuple[list[dg.RunRequest], list[dg.AddDynamicPartitionsRequest]]:
    """One run per new file content, and the partitions those runs need."""
    runs = [landing_run_request(p) for p in pending]
    keys = {
        export: [p.sha256 for p in pending if p.export == export] for export in LANDING_PARTITIONS
    }
    partitions = [LANDING_PARTITIONS[e].build_add_request(k) for e, k in keys.items() if k]
    return runs, partitions


def _known_contents(instance: dg.DagsterInstance) -> set[str]:
    return {
        key
        for partitions in LANDING_PARTITIONS.values()
        for key in instance.get_dynamic_partitions(partitions.name)
    }


@dg.sensor(
    jobs=list(LANDING_JOBS.values()),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
)
def landing_files_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Request a load for every new, complete file in the landing folder.

    Reads files, never writes anything and never opens DuckDB. Each content is requested once
    (run key = SHA-256), so the same export dropped under two names loads once.
    """
    settings = load_settings()
    cursor = LandingCursor.from_json(context.cursor)
    batch, next_cursor = select_new(scan_landing(settings.landing_dir), cursor, time.time_ns())
    pending = describe_new(batch, _known_contents(context.instance)) if batch else []
    if skipped := len(batch) - len(pending):
        context.log.info(f"{skipped} new file(s) skipped: content already requested, or gone")
    runs, partitions = landing_requests(pending)
    if not runs:
        return dg.SensorResult(skip_reason="no new files to load", cursor=next_cursor.to_json())
    return dg.SensorResult(
        run_requests=runs, dynamic_partitions_requests=partitions, cursor=next_cursor.to_json()
    )


# --- webhook log ------------------------------------------------------------------------------


def _webhook_metadata(days: Sequence[date], loads: Sequence[SegmentLoad]) -> dict[str, Any]:
    """Figures for the whole run: Dagster attaches them to every day of a range run alike."""
    table = [
        {
            "segment": load.segment,
            "lines": load.lines,
            "events": load.events,
            "duplicates": load.duplicates,
            "rejected": load.rejected,
        }
        for load in loads
    ]
    return {
        "days_in_run": f"{days[0]} to {days[-1]}" if len(days) > 1 else str(days[0]),
        "segments_in_run": len(loads),
        "events_in_run": sum(load.events for load in loads),
        "duplicate_deliveries_in_run": sum(load.duplicates for load in loads),
        "rejected_lines_in_run": sum(load.rejected for load in loads),
        "segments": dg.MetadataValue.md(_markdown_table(table[:50])),
    }


@dg.asset(
    key=["raw", "thrivecart_webhook_events"],
    partitions_def=WEBHOOK_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    group_name="raw",
    kinds={"duckdb"},
)
def raw_thrivecart_webhook_events(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every webhook delivery the sidecar logged, once per delivery id; one partition per UTC
    day (segment file). A run can cover a range of days: they load in one transaction."""
    settings = load_settings()
    days = [date.fromisoformat(key) for key in context.partition_keys]
    with warehouse.connect() as con:
        ensure_raw_schema(con)
        loads = load_webhook_days(
            con, settings.landing_dir, settings.webhooks_dir, days, _utc_now()
        )
    for load in loads:
        if load.rejected:
            context.log.warning(
                f"{load.segment}: {load.rejected} line(s) are not webhook records; see "
                "raw.rejected_rows"
            )
    return dg.MaterializeResult(metadata=_webhook_metadata(days, loads))


WEBHOOK_JOB = dg.define_asset_job(
    "load_webhook_days",
    selection=[raw_thrivecart_webhook_events],
    executor_def=dg.in_process_executor,
)


def webhook_days_request(days: Sequence[date], run_key: str | None = None) -> dg.RunRequest:
    """One run for `days`: a single partition, or the range from the first to the last."""
    first, last = min(days).isoformat(), max(days).isoformat()
    if first == last:
        return dg.RunRequest(run_key=run_key, job_name=WEBHOOK_JOB.name, partition_key=first)
    tags = {RANGE_START_TAG: first, RANGE_END_TAG: last}
    return dg.RunRequest(run_key=run_key, job_name=WEBHOOK_JOB.name, tags=tags)


def _loadable_days(days: Sequence[date], log: Callable[[str], None]) -> list[date]:
    too_old = [d for d in days if d < WEBHOOK_HISTORY_START]
    if too_old:
        log(f"webhook log segments dated before {WEBHOOK_HISTORY_START} are not loaded: {too_old}")
    return [d for d in days if d >= WEBHOOK_HISTORY_START]


@dg.sensor(
    job=WEBHOOK_JOB,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
)
def webhook_log_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Request one run for the days whose log segments gained complete lines.

    The cursor is the (segment, byte offset) after the last complete line requested; however
    many days a replayed history spans, a tick launches a single run over their range.
    """
    position = LogPosition.from_json(context.cursor)
    today = datetime.now(UTC).date()
    days, end = new_complete_lines(load_settings().webhooks_dir, position, until=today)
    days = _loadable_days(days, context.log.warning)
    cursor = end.to_json() if end else None
    if not days:
        return dg.SensorResult(
            skip_reason="no new complete lines in the webhook log", cursor=cursor
        )
    start = f"{position.segment}:{position.offset}" if position else "start"
    run_key = f"{start}->{end.segment}:{end.offset}"
    return dg.SensorResult(run_requests=[webhook_days_request(days, run_key)], cursor=cursor)


# --- checks -----------------------------------------------------------------------------------


def _raw_check(
    asset: dg.AssetsDefinition,
    name: str,
    description: str,
    severity: dg.AssetCheckSeverity,
    find_problems: Callable[[duckdb.DuckDBPyConnection], list[str]],
) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset, name=name, description=description, pool=WAREHOUSE_POOL)
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            ensure_raw_schema(con)
            problems = find_problems(con)
        return dg.AssetCheckResult(
            passed=not problems,
            severity=severity,
            metadata={
                "problems": len(problems),
                "details": dg.MetadataValue.md(_bullets(problems)),
            },
        )

    return _check


_NO_DUPLICATES = (
    "Every file content is loaded once: its rows appear once and match its ledger entry."
)
_HEADER = "Every loaded file had the export's full header (and, for subscriptions, a known kind)."
RAW_CHECKS = [
    *(
        _raw_check(
            LANDING_ASSETS[export],
            "no_duplicate_file_loads",
            _NO_DUPLICATES,
            dg.AssetCheckSeverity.ERROR,
            lambda con, export=export: raw_checks.duplicate_file_loads(con, export),
        )
        for export in LANDING_ASSETS
    ),
    *(
        _raw_check(
            LANDING_ASSETS[export],
            "header_recognised",
            _HEADER,
            dg.AssetCheckSeverity.WARN,
            lambda con, export=export: raw_checks.header_mismatches(con, export),
        )
        for export in LANDING_ASSETS
    ),
    _raw_check(
        raw_thrivecart_webhook_events,
        "delivery_ids_unique",
        "Each webhook delivery is stored once.",
        dg.AssetCheckSeverity.ERROR,
        raw_checks.duplicate_delivery_ids,
    ),
]


def _checks_for(asset: dg.AssetsDefinition) -> list[dg.AssetChecksDefinition]:
    return [c for c in RAW_CHECKS if any(k.asset_key == asset.key for k in c.check_keys)]


# --- one-shot ingestion (`ltv run`) -----------------------------------------------------------


def ingest_pending(
    instance: dg.DagsterInstance,
    settings: Settings | None = None,
    run_config: Mapping[str, Any] | None = None,
) -> list[dg.ExecuteInProcessResult]:
    """Load everything pending, in-process, through the same assets and checks as the sensors.

    Pending: settled landing files whose content the ledger lacks, and log segments that grew
    past what was loaded. One run per file (a bad file fails only its own run) and one run for
    all pending webhook days, each with `run_config` (e.g. a quieter console logger). Returns
    every run's result; none raises.
    """
    settings = settings or load_settings()
    con = connect(settings.warehouse, memory_limit=settings.memory_limit)
    try:
        ensure_raw_schema(con)
        known, sizes = loaded_hashes(con), loaded_segment_sizes(con)
    finally:
        con.close()
    resources = {"warehouse": WarehouseResource.of(settings)}
    results = []
    for pending in pending_files(settings.landing_dir, known, time.time_ns()):
        instance.add_dynamic_partitions(LANDING_PARTITIONS[pending.export].name, [pending.sha256])
        asset = LANDING_ASSETS[pending.export]
        request = landing_run_request(pending)
        assets = [asset, *_checks_for(asset)]
        results.append(_materialize(assets, request, instance, resources, run_config))
    days = _loadable_days(pending_webhook_days(settings.webhooks_dir, sizes), _log.warning)
    if days:
        assets = [raw_thrivecart_webhook_events, *_checks_for(raw_thrivecart_webhook_events)]
        request = webhook_days_request(days)
        results.append(_materialize(assets, request, instance, resources, run_config))
    return results


def failure_messages(results: Sequence[dg.ExecuteInProcessResult]) -> list[str]:
    """Why each failed run failed, in the words the Dagster UI shows (for `ltv run`'s output)."""
    messages = []
    for result in results:
        for event in result.all_events:
            if event.is_step_failure:
                failure = event.step_failure_data
                described = failure.user_failure_data and failure.user_failure_data.description
                messages.append(described or failure.error.message.strip())
    return messages


def _materialize(
    assets: list[Any],
    request: dg.RunRequest,
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    run_config: Mapping[str, Any] | None,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets,
        run_config=run_config,
        partition_key=request.partition_key,
        tags=request.tags,
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )


defs = dg.Definitions(
    assets=[*LANDING_ASSETS.values(), raw_thrivecart_webhook_events],
    asset_checks=RAW_CHECKS,
    jobs=[*LANDING_JOBS.values(), WEBHOOK_JOB],
    sensors=[landing_files_sensor, webhook_log_sensor],
)
