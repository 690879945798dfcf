"""The Dagster assets `publish/marts_snapshot` and `publish/ltv_report`."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from test_report_fixture import ROW_COUNTS, build_fixture_marts

from pipeline.defs import SNAPSHOT_PATH
from pipeline.defs.forecast import INPUT_MARTS, forecast_keys
from pipeline.defs.pipeline_defs import pipeline_defs
from pipeline.defs.publish import mart_keys
from pipeline.defs.scope import SINGLE, WAREHOUSE_POOL
from pipeline.settings import load_settings

PIPELINE = pipeline_defs(SINGLE)
marts_snapshot, forecast_in_snapshot, ltv_report, _ = PIPELINE.publish
SNAPSHOT_KEY = dg.AssetKey(list(SNAPSHOT_PATH))
MART_KEYS = mart_keys(SINGLE)
FORECAST_KEYS = forecast_keys(SINGLE)
INPUT_KEYS = [dg.AssetKey(["marts", name]) for name in INPUT_MARTS]

FORECAST_PUBLISH_KEY = dg.AssetKey(["publish", "forecast"])
REPORT_KEY = dg.AssetKey(["publish", "ltv_report"])


def test_snapshot_follows_the_contract_marts_and_the_forecast_follows_it() -> None:
    with_settings = dg.Definitions(resources={"settings": load_settings({})})
    assets = dg.Definitions(assets=[PIPELINE.forecast, *PIPELINE.publish])
    publish = dg.Definitions.merge(assets, with_settings)
    dg.Definitions.validate_loadable(publish)
    graph = publish.resolve_asset_graph()
    # A new payment reaches the snapshot without waiting for the forecast to fit.
    assert graph.get(SNAPSHOT_KEY).parent_keys == set(MART_KEYS)
    assert {key.path[1] for key in MART_KEYS} == set(ROW_COUNTS)
    for key in FORECAST_KEYS:
        assert graph.get(key).parent_keys == {*INPUT_KEYS, SNAPSHOT_KEY}
    assert graph.get(FORECAST_PUBLISH_KEY).parent_keys == set(FORECAST_KEYS)
    assert graph.get(REPORT_KEY).parent_keys == {FORECAST_PUBLISH_KEY}
    assert marts_snapshot.op.pool == forecast_in_snapshot.op.pool == WAREHOUSE_POOL
    assert ltv_report.op.pool is None  # reads only the snapshot: no warehouse lock needed


def test_materializing_publishes_the_snapshot_then_the_report(tmp_path: Path) -> None:
    snapshot = tmp_path / "published" / "marts.duckdb"
    warehouse = build_fixture_marts(tmp_path / "ltv.duckdb")
    settings = load_settings({"LTV_WAREHOUSE": str(warehouse), "LTV_MARTS_SNAPSHOT": str(snapshot)})

    resources = {"settings": settings}
    result = dg.materialize([marts_snapshot], resources=resources)
    # In a build the forecast is fitted in between; here the warehouse has no forecast.
    then = dg.materialize([forecast_in_snapshot, ltv_report], resources=resources)

    assert result.success and then.success
    published = result.asset_materializations_for_node("publish__marts_snapshot")[0].metadata
    assert {k: v.value for k, v in published.items() if k.startswith("rows/")} == {
        f"rows/{table}": n for table, n in ROW_COUNTS.items()
    }
    assert published["dagster/row_count"].value == sum(ROW_COUNTS.values())
    assert published["snapshot"].value == str(snapshot)
    assert "| USD | 3 | 450.00 | 150.00 | 165.00 | n/a |" in published["key numbers"].value
    republished = then.asset_materializations_for_node("publish__forecast")[0].metadata
    assert republished["dagster/row_count"].value == sum(ROW_COUNTS.values())
    report = then.asset_materializations_for_node("publish__ltv_report")[0].metadata
    assert report["path"].value == str(snapshot.with_name("ltv_report.html"))
    assert report["currencies"].value == "EUR, USD"
    assert report["size (bytes)"].value == snapshot.with_name("ltv_report.html").stat().st_size
