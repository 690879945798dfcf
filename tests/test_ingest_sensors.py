"""The landing and webhook sensors, evaluated through `build_sensor_context`."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import dagster as dg
from dagster import DagsterRunStatus
from dagster._core.test_utils import create_run_for_test

from pipeline.defs.ingest.partitions import LANDING_PATH_TAG
from pipeline.defs.pipeline_defs import pipeline_defs
from pipeline.defs.scope import SINGLE
from pipeline.demo import SellerSummary
from pipeline.ingest.headers import SUBSCRIPTIONS, TRANSACTIONS
from pipeline.ingest.landing import file_sha256
from pipeline.settings import Settings
from pipeline.sidecar.replay import replay_to_log

PIPELINE = pipeline_defs(SINGLE)
LANDING_SENSOR = PIPELINE.landing_files_sensor
WEBHOOK_SENSOR = PIPELINE.automation.webhook_log_sensor
LOAD_AND_BUILD = PIPELINE.automation.load_webhooks_and_build


def tick(
    sensor: dg.SensorDefinition,
    instance: dg.DagsterInstance,
    cursor: str | None,
    settings: Settings,
) -> dg.SensorResult:
    """Evaluate one tick and apply its partition requests, as the daemon would."""
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"settings": settings}
    )
    result = sensor(context)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def requested_days(request: dg.RunRequest) -> list[str]:
    """The log days a webhook run request loads, from its run config."""
    (op_config,) = request.run_config["ops"].values()
    return op_config["config"]["days"]


def test_landing_sensor_requests_one_run_per_content_and_each_content_once(
    ephemeral_instance: dg.DagsterInstance,
    demo_landing: SellerSummary,
    pipeline_settings: Settings,
    settle: Callable[[Path], None],
) -> None:
    result = tick(LANDING_SENSOR, ephemeral_instance, None, pipeline_settings)
    files = demo_landing.files
    expected = {
        file_sha256(files[role]): (job, files[role].relative_to(demo_landing.out).as_posix())
        for role, job in [
            ("latest", "load_transactions_file"),
            ("older", "load_transactions_file"),
            ("recurring", "load_subscriptions_file"),
            ("limited", "load_subscriptions_file"),
            ("fees", "load_processor_fees_file"),
            ("product_costs", "load_product_costs_file"),
            ("meta", "load_ad_spend_file"),
            ("google", "load_ad_spend_file"),
            ("plain_spend", "load_ad_spend_file"),
            ("ecb", "load_fx_rates_file"),
            ("plain_rates", "load_fx_rates_file"),
        ]
    }
    requested = {
        r.partition_key: (r.job_name, r.tags[LANDING_PATH_TAG])
        for r in result.run_requests
        if r.run_key and r.run_key.startswith(f"{r.partition_key}:")
    }
    assert requested == expected
    for export in (TRANSACTIONS, SUBSCRIPTIONS):
        partitions = PIPELINE.ingest.partitions[export].name
        assert len(ephemeral_instance.get_dynamic_partitions(partitions)) == 2

    assert (
        tick(LANDING_SENSOR, ephemeral_instance, result.cursor, pipeline_settings).run_requests
        == []
    )
    copy = pipeline_settings.landing_dir / "inbox" / "same export, other name.csv"
    copy.parent.mkdir()
    shutil.copyfile(files["latest"], copy)
    settle(copy.parent)
    again = tick(LANDING_SENSOR, ephemeral_instance, result.cursor, pipeline_settings)
    assert again.run_requests == []
    assert not pipeline_settings.warehouse.exists()  # sensors never open DuckDB


def test_half_written_files_wait_for_a_later_tick(
    ephemeral_instance: dg.DagsterInstance,
    pipeline_settings: Settings,
    settle: Callable[[Path], None],
) -> None:
    landing = pipeline_settings.landing_dir
    (landing / "orders").mkdir()
    header = "order_id,order_date,event,transaction_id,total,email\n"
    (landing / "orders" / "export.csv.crdownload").write_text(header + "1,2,3,4,5,6\n")
    (landing / "orders" / "being-copied.csv").write_text(header + "7,8,9,10,11,12\n")
    result = tick(LANDING_SENSOR, ephemeral_instance, None, pipeline_settings)
    assert result.run_requests == []
    (landing / "orders" / "export.csv.crdownload").rename(landing / "orders" / "export.csv")
    settle(landing)
    result = tick(LANDING_SENSOR, ephemeral_instance, result.cursor, pipeline_settings)
    paths = sorted(r.tags[LANDING_PATH_TAG] for r in result.run_requests)
    assert paths == ["orders/being-copied.csv", "orders/export.csv"]


def test_webhook_sensor_requests_one_run_for_a_whole_replayed_history(
    ephemeral_instance: dg.DagsterInstance, demo_landing: SellerSummary, pipeline_settings: Settings
) -> None:
    log = pipeline_settings.webhooks_dir
    summary = replay_to_log(demo_landing.files["deliveries"], log, {"*": "demo-secret"})
    assert summary.accepted > 10
    segments = sorted(p.name for p in log.glob("thrivecart-*.jsonl"))
    assert len(segments) > 20

    result = tick(WEBHOOK_SENSOR, ephemeral_instance, None, pipeline_settings)
    (request,) = result.run_requests
    all_days = [name[11:21] for name in segments]
    assert requested_days(request) == all_days
    assert request.job_name == LOAD_AND_BUILD.name and request.run_key
    assert (
        tick(
            WEBHOOK_SENSOR,
            ephemeral_instance,
            result.cursor,
            pipeline_settings,
        ).run_requests
        == []
    )

    with (log / segments[-1]).open("ab") as f:
        f.write((log / segments[-1]).read_bytes().splitlines(keepends=True)[0])
        f.write(b'{"torn": ')
    # While a build runs, the new line is only loaded; the build sensor follows it up.
    create_run_for_test(
        ephemeral_instance,
        job_name=LOAD_AND_BUILD.name,
        status=DagsterRunStatus.STARTED,
    )
    later = tick(WEBHOOK_SENSOR, ephemeral_instance, result.cursor, pipeline_settings)
    (request,) = later.run_requests
    assert requested_days(request) == [all_days[-1]]
    assert request.job_name == PIPELINE.ingest.webhook_job.name
    assert request.run_key != result.run_requests[0].run_key
    assert (
        tick(
            WEBHOOK_SENSOR,
            ephemeral_instance,
            later.cursor,
            pipeline_settings,
        ).run_requests
        == []
    )
    assert not pipeline_settings.warehouse.exists()


def test_sensors_run_by_default_and_every_writer_is_in_the_pool(
    pipeline_settings: Settings,
) -> None:
    from pipeline.defs.resources import pipeline_resources
    from pipeline.defs.scope import WAREHOUSE_POOL

    resources = dg.Definitions(resources=pipeline_resources(pipeline_settings))
    repo = dg.Definitions.merge(PIPELINE.ingest_definitions(), resources).get_repository_def()
    for sensor in repo.sensor_defs:
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    pools = [a.op.pool for a in repo.assets_defs_by_key.values()]
    # two exports, the four inputs of docs/costs.md and the webhook log; two checks each but
    # the log's one
    assert pools == [WAREHOUSE_POOL] * 7
    checks = list(repo.asset_checks_defs_by_key.values())
    assert [c.op.pool for c in checks] == [WAREHOUSE_POOL] * 13


def test_the_instance_template_holds_one_warehouse_slot(
    dagster_instance: dg.DagsterInstance,
) -> None:
    pools = dagster_instance.get_concurrency_config().pool_config
    assert (pools.default_pool_limit, pools.pool_granularity.value) == (1, "op")
    assert Path(dagster_instance.root_directory, "dagster.yaml").exists()
    queue = dagster_instance.get_concurrency_config().run_queue_config
    assert queue is not None and queue.max_concurrent_runs == 4
    assert dagster_instance.run_coordinator.dequeue_interval_seconds == 1  # freshness
