"""`ltv run` end to end: a generated seller through the CLI, marts equal to truth.json.

The one-shot command drives the same Dagster assets as the sensors against the persistent
instance; a bad file fails only its own load and the command's exit code, never the marts.
(Loading twice or in another order is covered by tests/test_dbt_end_to_end.py.)
"""

from __future__ import annotations

import time
from typing import Any

import duckdb
from click.testing import CliRunner
from spreadsheet import resave
from test_dbt_support import aggregate_mismatches, customer_mismatches, generate_and_replay

from pipeline.cli import main
from pipeline.run.unchanged import published_build_id
from pipeline.settings import Settings
from pipeline.sidecar.replay import ReplaySummary, replay_to_log

CUSTOMERS = 40
SEED = 11


def test_ltv_run_builds_marts_equal_to_truth_and_reports_a_bad_file(
    pipeline_settings: Settings, settle
) -> None:
    truth = generate_and_replay(pipeline_settings, CUSTOMERS, SEED)
    bad = pipeline_settings.landing_dir / "orders" / "notes.csv"
    bad.write_text("this is,not a\nThriveCart,export\n")
    settle(pipeline_settings.landing_dir)

    first = CliRunner().invoke(main, ["run"])

    assert first.exit_code == 1, first.output
    # two exports, recurring, limited, and the seven cost, ad spend and rate files
    assert "files loaded: 11" in first.output
    assert "failed: 1" in first.output and "notes.csv" in first.output
    assert (pipeline_settings.rejected_dir / "notes.csv.error.txt").exists()
    with duckdb.connect(str(pipeline_settings.warehouse), read_only=True) as con:
        assert customer_mismatches(con, truth) == []
        assert aggregate_mismatches(con, truth) == []
    with duckdb.connect(str(pipeline_settings.marts_snapshot), read_only=True) as snapshot:
        payments = snapshot.execute("select count(*) from fct_payments").fetchone()[0]
        # The forecast was fitted after the marts were published and added to the same
        # snapshot: a row per acquired customer, from this build's as_of.
        unforecast = snapshot.execute(
            """select count(*) from dim_customers anti join customer_ltv_forecast
               using (customer_id, currency) where cohort_month is not null"""
        ).fetchone()[0]
        forecast_builds = snapshot.execute(
            """select count(distinct f.as_of), bool_and(f.as_of = m.as_of)
               from customer_ltv_forecast f cross join mart_metadata m"""
        ).fetchone()
    assert unforecast == 0
    assert forecast_builds == (1, True)
    assert payments == sum(total["payments"] for total in truth["totals"])
    assert f"payments: {payments:,}" in first.output
    # This warehouse's vars are not the ones `make setup` parsed with: dbt parsed it all once.
    assert "Unable to do partial parsing" in first.output

    # Nothing new: no build at all, the published build stays (notes.csv was set aside).
    built = published_build_id(pipeline_settings.marts_snapshot)
    same = CliRunner().invoke(main, ["run"])
    assert same.exit_code == 0, same.output
    assert f"nothing new since build {built}" in same.output
    assert f"marts unchanged in {pipeline_settings.marts_snapshot}" in same.output
    assert f"payments: {payments:,}" in same.output
    assert published_build_id(pipeline_settings.marts_snapshot) == built

    # A webhook delivered again (ThriveCart retries): the log grew, so the build runs and
    # patches what changed, which is nothing; --full-refresh rebuilds all.
    again = replay_first_delivery_again(pipeline_settings, truth)
    for args, rebuilt_all in ((["run"], False), (["run", "--full-refresh"], True)):
        rebuilt = CliRunner().invoke(main, args)
        assert rebuilt.exit_code == 0, rebuilt.output
        assert f"marts published to {pipeline_settings.marts_snapshot}" in rebuilt.output
        assert published_build_id(pipeline_settings.marts_snapshot) != built, args
        # The first build's parse state, kept beside the warehouse (pipeline/dbt_artifacts.py).
        assert "Unable to do partial parsing" not in rebuilt.output
        built = published_build_id(pipeline_settings.marts_snapshot)
        with duckdb.connect(str(pipeline_settings.warehouse), read_only=True) as con:
            scope = con.execute("select rebuild_all from intermediate.int_build_scope")
            assert scope.fetchone()[0] is rebuilt_all, args
            assert customer_mismatches(con, truth) == []
    assert again.accepted == 1, again.describe()


def replay_first_delivery_again(settings: Settings, truth: dict[str, Any]) -> ReplaySummary:
    """Append the seller's first webhook delivery to the log once more."""
    deliveries = settings.landing_dir / "_demo" / "deliveries.jsonl"
    first = settings.landing_dir / "_demo" / "first-delivery.jsonl"
    first.write_text(deliveries.read_text().splitlines()[0] + "\n")
    return replay_to_log(first, settings.webhooks_dir, {truth["account"]: truth["secret"]})


def test_spreadsheet_resaves_dropped_just_before_a_run_give_the_clean_marts(
    pipeline_settings: Settings,
) -> None:
    """One export re-saved in a US spreadsheet, another in a European one, each with a total
    row, written a moment before `ltv run`: the marts are exactly the generated seller's."""
    truth = generate_and_replay(pipeline_settings, CUSTOMERS, SEED + 1)
    landing = pipeline_settings.landing_dir
    older, latest = sorted((landing / "orders").glob("*.csv"))
    (recurring,) = (landing / "subscriptions" / "recurring").glob("*.csv")
    for clean, style in ((older, "us"), (latest, "eu"), (recurring, "eu")):
        resaved = clean.with_name(f"{clean.stem} ({style}).csv")
        resave(clean, resaved, style)
        clean.unlink()
    time.sleep(1)

    result = CliRunner().invoke(main, ["run"])

    assert result.exit_code == 0, result.output
    assert "files loaded: 11" in result.output and "rows rejected" not in result.output
    assert "waiting for 11 file(s) still being written" in result.output  # all just written
    with duckdb.connect(str(pipeline_settings.warehouse), read_only=True) as con:
        assert customer_mismatches(con, truth) == []
        assert aggregate_mismatches(con, truth) == []
        notes = con.execute("select flatten(list(notes)) from raw.landing_files").fetchone()[0]
    assert sum("summary or blank row(s) skipped" in note for note in notes) == 3
    assert sum("dates read day-first" in note for note in notes) == 2
