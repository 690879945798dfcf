"""Raw assets and their checks, run in-process the way the sensors' runs execute them."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from test_ingest_headers import TRANSACTIONS_HEADER
from test_ingest_webhooks import record

from pipeline.defs.ingest.partitions import LANDING_PATH_TAG
from pipeline.defs.ingest.sensors import webhook_days_request
from pipeline.defs.pipeline_defs import pipeline_defs
from pipeline.defs.resources import pipeline_resources
from pipeline.defs.scope import SINGLE
from pipeline.demo import SellerSummary
from pipeline.ingest.headers import SUBSCRIPTIONS, TRANSACTIONS
from pipeline.ingest.landing import file_sha256
from pipeline.run.driver import failure_messages, ingest_pending
from pipeline.settings import Settings

RAW_TABLES = ["thrivecart_transactions", "thrivecart_subscriptions", "rejected_rows"]
PIPELINE = pipeline_defs(SINGLE)
INGEST = PIPELINE.ingest
landing_files_sensor = PIPELINE.landing_files_sensor


@pytest.fixture
def instance(ephemeral_instance: dg.DagsterInstance) -> dg.DagsterInstance:
    return ephemeral_instance


def execute(
    instance: dg.DagsterInstance, request: dg.RunRequest, settings: Settings
) -> dg.ExecuteInProcessResult:
    """Run what a sensor requested, in-process: its job (or the webhook asset) and checks."""
    with_resources = dg.Definitions.merge(
        PIPELINE.ingest_definitions(), dg.Definitions(resources=pipeline_resources(settings))
    )
    return with_resources.resolve_job_def(request.job_name).execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        tags=request.tags,
        run_config=request.run_config,
        raise_on_error=False,
    )


def run_sensor(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, settings: Settings
) -> list[dg.RunRequest]:
    result = sensor(dg.build_sensor_context(instance=instance, resources={"settings": settings}))
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return list(result.run_requests)


def query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def data_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    """The metadata of the run's one materialization."""
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def checks(result: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, str]]:
    return {
        e.check_name: (e.passed, e.severity.value) for e in result.get_asset_check_evaluations()
    }


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    return failure.step_failure_data.error.message


def test_every_export_loads_with_metadata_and_passing_checks(
    instance: dg.DagsterInstance, demo_landing: SellerSummary, pipeline_settings: Settings
) -> None:
    results = [
        execute(instance, r, pipeline_settings)
        for r in run_sensor(landing_files_sensor, instance, pipeline_settings)
    ]
    assert all(r.success for r in results)
    by_file = {metadata(r)["file"]: (metadata(r), checks(r)) for r in results}
    for role in ("latest", "older", "recurring", "limited"):
        path = demo_landing.files[role]
        meta, evaluations = by_file[path.relative_to(demo_landing.out).as_posix()]
        assert (meta["rows"], meta["rejected_rows"]) == (data_rows(path), 0)
        assert meta["dagster/row_count"] == meta["rows"]
        assert meta["sha256"] == file_sha256(path)
        assert "| order_id |" in meta["preview"] or "| subscription_id |" in meta["preview"]
        assert set(evaluations.values()) == {(True, "ERROR"), (True, "WARN")}
    expected = data_rows(demo_landing.files["latest"]) + data_rows(demo_landing.files["older"])
    assert query(pipeline_settings, "SELECT count(*) FROM raw.thrivecart_transactions") == [
        (expected,)
    ]
    kinds = query(pipeline_settings, "SELECT DISTINCT kind FROM raw.thrivecart_subscriptions")
    assert sorted(kinds) == [("limited",), ("recurring",)]


def test_rerunning_a_partition_changes_nothing(
    instance: dg.DagsterInstance, demo_landing: SellerSummary, pipeline_settings: Settings
) -> None:
    requests = run_sensor(landing_files_sensor, instance, pipeline_settings)
    loaded = next(r for r in requests if r.job_name == "load_subscriptions_file")
    assert execute(instance, loaded, pipeline_settings).success

    def snapshot() -> list[list[tuple]]:
        return [
            query(pipeline_settings, f"SELECT * EXCLUDE (_loaded_at) FROM raw.{t} ORDER BY ALL")
            for t in RAW_TABLES
        ]

    before = snapshot()
    untagged = dg.RunRequest(partition_key=loaded.partition_key, job_name=loaded.job_name)
    assert execute(instance, untagged, pipeline_settings).success  # as from the UI: no path tag
    assert snapshot() == before
    assert query(pipeline_settings, "SELECT count(*) FROM raw.landing_files") == [(1,)]


BAD_FILES = {
    "empty.csv": (b"", "the file is empty"),
    "workbook.xlsx": (b"PK\x03\x04\x14\x00\x06\x00\x08\x00", "Excel workbook"),
    "garbled.csv": (b"order_id,event,total\n\x81,\x8d,\x90\n", "cannot be decoded"),
    "contacts.csv": (b"Name,Email,Phone\nAnn,a@x.io,1\n", "unrecognised header"),
}


def test_each_bad_file_moves_to_rejected_with_its_message_and_good_files_go_on(
    instance: dg.DagsterInstance,
    pipeline_settings: Settings,
    settle: Callable[[Path], None],
) -> None:
    landing = pipeline_settings.landing_dir
    (landing / "orders").mkdir()
    for name, (data, _) in BAD_FILES.items():
        (landing / "orders" / name).write_bytes(data)
    typed = {"order_date": "2024-01-01", "order_time": "10:00:00"}
    row = ",".join(typed.get(column, "1") for column in TRANSACTIONS_HEADER)
    good = ",".join(TRANSACTIONS_HEADER) + "\n" + row
    (landing / "good.csv").write_text(good + "\n")
    settle(landing)
    results = {
        r.tags[LANDING_PATH_TAG]: execute(instance, r, pipeline_settings)
        for r in run_sensor(landing_files_sensor, instance, pipeline_settings)
    }
    assert results.pop("good.csv").success
    assert query(pipeline_settings, "SELECT count(*) FROM raw.thrivecart_transactions") == [(1,)]
    for name, (data, problem) in BAD_FILES.items():
        result = results[f"orders/{name}"]
        assert not result.success
        assert f"orders/{name} was rejected: " in failure_message(result)
        assert problem in failure_message(result)
        assert not (landing / "orders" / name).exists()
        assert (landing / "rejected" / name).read_bytes() == data
        note = (landing / "rejected" / f"{name}.error.txt").read_text()
        assert problem in note and "Fix:" in note and f"orders/{name}" in note


def test_bad_rows_are_counted_and_an_unknown_kind_is_flagged(
    instance: dg.DagsterInstance,
    pipeline_settings: Settings,
    settle: Callable[[Path], None],
    demo_landing: SellerSummary,
) -> None:
    landing = pipeline_settings.landing_dir
    export = demo_landing.files["limited"].read_bytes()
    (landing / "Subscriptions export.csv").write_bytes(export + b"a,b,c\n")
    settle(landing)
    (request,) = [
        r
        for r in run_sensor(landing_files_sensor, instance, pipeline_settings)
        if r.tags[LANDING_PATH_TAG] == "Subscriptions export.csv"
    ]
    result = execute(instance, request, pipeline_settings)
    meta = metadata(result)
    assert (meta["kind"], meta["rejected_rows"]) == ("unknown", 1)
    assert "kind 'unknown'" in meta["notes"]
    assert f"line {data_rows(demo_landing.files['limited']) + 2}:" in meta["rejected_sample"]
    assert checks(result)["header_recognised"] == (False, "WARN")
    assert query(pipeline_settings, "SELECT source, line FROM raw.rejected_rows") == [
        ("Subscriptions export.csv", data_rows(demo_landing.files["limited"]) + 2)
    ]

    moved = landing / "subscriptions" / "limited" / "fixed.csv"
    (landing / "Subscriptions export.csv").rename(moved)
    untagged = dg.RunRequest(partition_key=request.partition_key, job_name=request.job_name)
    fixed = execute(instance, untagged, pipeline_settings)  # from the UI, after the move
    assert (metadata(fixed)["file"], metadata(fixed)["kind"]) == (
        "subscriptions/limited/fixed.csv",
        "limited",
    )
    assert checks(fixed)["header_recognised"] == (True, "WARN")


def test_an_archive_folder_takes_loaded_files_and_reloads_still_find_them(
    instance: dg.DagsterInstance,
    demo_landing: SellerSummary,
    pipeline_settings: Settings,
    tmp_path: Path,
) -> None:
    archiving = dataclasses.replace(pipeline_settings, archive_dir=tmp_path / "archive")
    latest = demo_landing.files["latest"]
    rel = latest.relative_to(demo_landing.out).as_posix()
    request = next(
        r
        for r in run_sensor(landing_files_sensor, instance, archiving)
        if r.tags[LANDING_PATH_TAG] == rel
    )
    assert execute(instance, request, archiving).success
    assert not latest.exists() and (tmp_path / "archive" / rel).exists()
    assert query(pipeline_settings, "SELECT path, archived_to FROM raw.landing_files") == [
        (rel, str(tmp_path / "archive" / rel))
    ]
    again = execute(instance, request, archiving)
    assert again.success and metadata(again)["rows"] == data_rows(tmp_path / "archive" / rel)


def write_segments(settings: Settings, days: list[str]) -> None:
    """Hand-made log segments, two deliveries a day, as the sidecar writes them."""
    settings.webhooks_dir.mkdir(parents=True, exist_ok=True)
    for day in days:
        lines = [record(n, date.fromisoformat(day)) for n in (int(day[-2:]), int(day[-2:]) + 50)]
        segment = settings.webhooks_dir / f"thrivecart-{day}.jsonl"
        segment.write_bytes(b"".join(line + b"\n" for line in lines))


def with_config(config: dict[str, object]) -> dg.RunRequest:
    """A run of the webhook load with this op config, as a launchpad would launch it."""
    op = INGEST.webhook.op.name
    return dg.RunRequest(
        job_name=INGEST.webhook_job.name, run_config={"ops": {op: {"config": config}}}
    )


def test_webhook_days_load_in_one_run_and_reload_unchanged(
    instance: dg.DagsterInstance, pipeline_settings: Settings
) -> None:
    write_segments(pipeline_settings, ["2026-03-01", "2026-03-02", "2026-03-04"])
    # Without days in its config, a run loads every segment that grew: one materialization.
    result = execute(instance, dg.RunRequest(job_name=INGEST.webhook_job.name), pipeline_settings)
    assert result.success
    assert metadata(result)["days_in_run"] == "2026-03-01 to 2026-03-02, 2026-03-04"
    assert metadata(result)["events_in_run"] == 6
    assert checks(result) == {"delivery_ids_unique": (True, "ERROR")}
    snapshot = "SELECT * EXCLUDE (_loaded_at) FROM raw.thrivecart_webhook_events ORDER BY ALL"
    before = query(pipeline_settings, snapshot)
    assert len(before) == 6

    again = execute(instance, webhook_days_request(INGEST, [date(2026, 3, 4)]), pipeline_settings)
    assert (metadata(again)["days_in_run"], metadata(again)["new_events_in_run"]) == (
        "2026-03-04",
        0,
    )
    assert query(pipeline_settings, snapshot) == before
    nothing_grew = execute(
        instance, dg.RunRequest(job_name=INGEST.webhook_job.name), pipeline_settings
    )
    assert metadata(nothing_grew)["days_in_run"] == "none"
    every_day = execute(instance, with_config({"all_days": True}), pipeline_settings)
    assert metadata(every_day)["days_in_run"] == "2026-03-01 to 2026-03-02, 2026-03-04"
    assert metadata(every_day)["new_events_in_run"] == 0

    bad = with_config({"days": ["2026-02-30"]})
    (message,) = failure_messages([execute(instance, bad, pipeline_settings)])
    assert message.startswith("config `days`: day is out of range for month")
    assert query(pipeline_settings, snapshot) == before


def test_ingest_pending_loads_everything_once(
    instance: dg.DagsterInstance,
    demo_landing: SellerSummary,
    pipeline_settings: Settings,
    settle: Callable[[Path], None],
) -> None:
    write_segments(pipeline_settings, ["2026-03-01", "2026-03-02"])
    (pipeline_settings.landing_dir / "orders" / "notes.csv").write_text("just notes\n")
    settle(pipeline_settings.landing_dir)
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    results = ingest_pending(instance, pipeline_settings, run_config=quiet)
    # 4 exports, 7 cost, spend and rate files, the notes and the webhook days
    assert len(results) == 13 and sum(r.success for r in results) == 12
    (message,) = failure_messages(results)
    assert message.startswith("orders/notes.csv was rejected: unrecognised header")
    counts = query(
        pipeline_settings,
        "SELECT (SELECT count(*) FROM raw.landing_files), "
        "(SELECT count(*) > 0 FROM raw.thrivecart_webhook_events)",
    )
    assert counts == [(11, True)]  # 4 exports and 7 cost, ad spend and rate files
    partitions = {
        e: len(instance.get_dynamic_partitions(p.name)) for e, p in INGEST.partitions.items()
    }
    # the rejected file's run too
    assert partitions == {
        TRANSACTIONS: 3,
        SUBSCRIPTIONS: 2,
        "processor_fees": 1,
        "product_costs": 1,
        "ad_spend": 3,
        "fx_rates": 2,
    }
    assert ingest_pending(instance, pipeline_settings) == []
    # The sensor, running later on the same instance, finds nothing new to load either.
    assert run_sensor(landing_files_sensor, instance, pipeline_settings) == []
