"""The build sensor: one build per raw change, never two at once, none after a run that loaded
and built, and what a build covers."""

from __future__ import annotations

import time

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry
from dagster._core.test_utils import create_run_for_test

from pipeline.definitions import build_definitions
from pipeline.defs.automation import BUILD_TRIGGER_TAG
from pipeline.defs.pipeline_defs import pipeline_defs
from pipeline.defs.scope import SINGLE

AUTOMATION = pipeline_defs(SINGLE).automation
RAW_KEYS = AUTOMATION.raw_keys
build_marts = AUTOMATION.build_marts
load_webhooks_and_build = AUTOMATION.load_webhooks_and_build
WEBHOOK_JOB = pipeline_defs(SINGLE).ingest.webhook_job

WEBHOOKS = dg.AssetKey(["raw", "thrivecart_webhook_events"])


def tick(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    return AUTOMATION.marts_build_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))


def raw_loaded(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))


def test_no_raw_data_requests_no_build(ephemeral_instance: dg.DagsterInstance) -> None:
    result = tick(ephemeral_instance, None)
    assert result.run_requests == []
    assert result.skip_reason and "no raw change" in result.skip_reason.skip_message


def test_each_raw_change_requests_one_build(ephemeral_instance: dg.DagsterInstance) -> None:
    raw_loaded(ephemeral_instance, WEBHOOKS, "2026-11-01")
    first = tick(ephemeral_instance, None)
    assert [r.run_key for r in first.run_requests] == [f"raw-{first.cursor}"]
    assert first.run_requests[0].tags[BUILD_TRIGGER_TAG] == first.cursor

    assert tick(ephemeral_instance, first.cursor).run_requests == []

    transactions = dg.AssetKey(["raw", "thrivecart_transactions"])
    raw_loaded(ephemeral_instance, transactions, "0" * 64)
    second = tick(ephemeral_instance, first.cursor)
    assert len(second.run_requests) == 1
    assert int(second.cursor) > int(first.cursor)


def test_a_build_in_progress_defers_the_next_until_it_ends(
    ephemeral_instance: dg.DagsterInstance,
) -> None:
    raw_loaded(ephemeral_instance, WEBHOOKS, "2026-11-01")
    running = create_run_for_test(
        ephemeral_instance, job_name=build_marts.name, status=dg.DagsterRunStatus.STARTED
    )

    deferred = tick(ephemeral_instance, "0")
    assert deferred.run_requests == []
    assert deferred.cursor is None  # the change is still pending

    ephemeral_instance.report_run_failed(running)
    assert len(tick(ephemeral_instance, "0").run_requests) == 1


def test_the_build_covers_every_model_check_and_publish_asset_and_no_raw_asset() -> None:
    defs = build_definitions()
    job = defs.resolve_job_def(build_marts.name)
    graph = defs.resolve_asset_graph()
    built = set(job.asset_layer.executable_asset_keys)
    assert built.isdisjoint(RAW_KEYS)
    groups = {graph.get(key).group_name for key in built}
    assert groups == {"staging", "intermediate", "marts", "publish"}
    everything_else = {key for key in graph.executable_asset_keys if key not in RAW_KEYS}
    assert built == everything_else
    assert {
        dg.AssetKey(["publish", n]) for n in ("marts_snapshot", "ltv_report", "dbt_docs")
    } <= built
    # Every dbt data test runs in the build as an asset check; the raw checks stay with the loads.
    dbt_checks = {c for c in graph.asset_check_keys if c.asset_key in built}
    assert len(dbt_checks) > 50
    # The singular tests that read several marts are checks too, each on the mart it names.
    singular = {(c.asset_key.path[-1], c.name) for c in dbt_checks if c.name.startswith("assert_")}
    assert singular == {
        ("fct_payments", "assert_no_payment_counted_twice"),
        ("fct_payments", "assert_revenue_totals_agree"),
        ("ltv_day_n", "assert_day_n_counts_acquired_customers"),
        ("mrr_monthly", "assert_mrr_movements_add_up"),
        ("repeat_purchase_cohorts", "assert_repeat_purchases_agree"),
    }
    assert set(job.asset_layer.asset_graph.asset_check_keys) == dbt_checks
    # The run a new webhook line starts loads the log and then builds the same.
    combined = defs.resolve_job_def(load_webhooks_and_build.name)
    assert set(combined.asset_layer.executable_asset_keys) == built | {WEBHOOKS}


def raw_loaded_in(instance: dg.DagsterInstance, run: dg.DagsterRun, key: dg.AssetKey) -> None:
    """A raw materialization recorded by `run`, as its load step records it."""
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
        job_name=run.job_name,
        event_specific_data=StepMaterializationData(dg.AssetMaterialization(key)),
    )
    entry = EventLogEntry(
        error_info=None,
        level="debug",
        user_message="",
        run_id=run.run_id,
        timestamp=time.time(),
        dagster_event=event,
    )
    instance.store_event(entry)


def test_a_run_that_loaded_and_built_needs_no_build_unless_it_failed(
    ephemeral_instance: dg.DagsterInstance,
) -> None:
    job = load_webhooks_and_build.name
    running = create_run_for_test(ephemeral_instance, job_name=job)
    raw_loaded_in(ephemeral_instance, running, WEBHOOKS)
    while_it_runs = tick(ephemeral_instance, "0")
    assert (while_it_runs.run_requests, while_it_runs.cursor) == ([], None)

    ephemeral_instance.report_run_failed(running)  # e.g. a failing model after the load
    assert len(tick(ephemeral_instance, "0").run_requests) == 1

    built = create_run_for_test(ephemeral_instance, job_name=job)
    raw_loaded_in(ephemeral_instance, built, WEBHOOKS)
    ephemeral_instance.handle_run_event(
        built.run_id,
        DagsterEvent(event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name=job),
    )
    after = tick(ephemeral_instance, "0")
    assert after.run_requests == [] and int(after.cursor) > 0
    assert "built the marts" in after.skip_reason.skip_message

    loaded_only = create_run_for_test(ephemeral_instance, job_name=WEBHOOK_JOB.name)
    raw_loaded_in(ephemeral_instance, loaded_only, WEBHOOKS)
    assert len(tick(ephemeral_instance, after.cursor).run_requests) == 1
