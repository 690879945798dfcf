"""Dagster assets that publish the marts: the analysts' snapshot, the forecast marts added to
it once they are fitted, then the HTML LTV report and the dbt docs beside it.

They are part of the `build_marts` run (pipeline/defs/automation.py) after the dbt models, so
they run only when the build and its error-level tests passed, and of any run that selects
everything downstream of the marts. The logic lives in pipeline.publish, pipeline.report and
pipeline.dbt_docs; these assets only call it and report what it wrote.

No `from __future__ import annotations` here: Dagster reads the resource annotations at
definition time.
"""

import dagster as dg

from pipeline.dbt_docs import write_dbt_docs
from pipeline.defs import SNAPSHOT_PATH
from pipeline.defs.forecast import forecast_keys
from pipeline.defs.scope import Scope
from pipeline.engines.postgres_marts import publish_on_postgres
from pipeline.engines.spark import publish_on_spark
from pipeline.forecast import FORECAST_MARTS
from pipeline.publish import (
    CONTRACT_MARTS,
    PublishResult,
    publish_all_accounts,
    publish_snapshot,
)
from pipeline.report.build import write_report
from pipeline.report.formatting import when
from pipeline.report.marts import SNAPSHOT_SCHEMA
from pipeline.report.summary import summary_markdown
from pipeline.settings import Settings


def mart_keys(scope: Scope) -> list[dg.AssetKey]:
    """The contract's marts of one pipeline. The snapshot copies whatever schema `marts` holds,
    but waits only for these: the forecast is fitted after it and published into it
    (`forecast_in_snapshot`)."""
    return [scope.key("marts", name) for name in CONTRACT_MARTS]


def publish_assets(scope: Scope) -> list[dg.AssetsDefinition]:
    """One pipeline's snapshot, forecast-in-snapshot, report and dbt docs assets."""
    snapshot = _marts_snapshot(scope)
    forecast = _forecast_in_snapshot(scope)
    return [snapshot, forecast, _ltv_report(scope, forecast), _dbt_docs(scope, snapshot)]


def _marts_snapshot(scope: Scope) -> dg.AssetsDefinition:
    @dg.asset(
        key=scope.key(*SNAPSHOT_PATH),
        deps=mart_keys(scope),
        # Reads the warehouse file, which DuckDB will not open while a writer holds it.
        pool=scope.pool,
        group_name=scope.name("publish"),
        kinds={"duckdb", "parquet"},
        description="Read-only copy of every mart for analysts (LTV_MARTS_SNAPSHOT) and "
        "Parquet files beside it, replaced atomically so readers never block the pipeline.",
    )
    def marts_snapshot(settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
        """Copy schema `marts` of the warehouse into the snapshot and its Parquet folder. On
        PostgreSQL the build is first swapped into the schema readers query, and copied from
        there into the DuckDB warehouse (pipeline/engines/postgres_marts.py); on Spark the
        marts are read from their Parquet files (pipeline/engines/spark.py)."""
        settings = scope.settings(settings)
        if settings.postgres is not None:
            publish_on_postgres(settings, keep=FORECAST_MARTS)
        if settings.spark is not None:
            publish_on_spark(settings, keep=FORECAST_MARTS)
        result = publish_snapshot(settings)
        return dg.MaterializeResult(metadata=snapshot_metadata(result))

    return marts_snapshot


def _forecast_in_snapshot(scope: Scope) -> dg.AssetsDefinition:
    @dg.asset(
        key=scope.key("publish", "forecast"),
        deps=forecast_keys(scope),
        pool=scope.pool,
        group_name=scope.name("publish"),
        kinds={"duckdb", "parquet"},
        description="The forecast marts added to the snapshot of the build they were fitted "
        "on (the other marts' files are kept as published), replaced atomically like the "
        "snapshot.",
    )
    def forecast_in_snapshot(settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
        """Republish the snapshot with the forecast marts just written; with LTV_ACCOUNTS,
        then the snapshot of every account together."""
        settings = scope.settings(settings)
        result = publish_snapshot(settings, refresh=FORECAST_MARTS)
        metadata = snapshot_metadata(result)
        if every_account := publish_all_accounts(settings):
            metadata["all accounts"] = dg.MetadataValue.path(str(every_account))
        return dg.MaterializeResult(metadata=metadata)

    return forecast_in_snapshot


def snapshot_metadata(result: PublishResult) -> dict[str, dg.MetadataValue]:
    """Rows per table, where the files are, and the key numbers, for the Dagster UI."""
    rows = {f"rows/{table}": dg.MetadataValue.int(n) for table, n in result.tables.items()}
    return {
        "dagster/row_count": dg.MetadataValue.int(result.rows),
        **rows,
        "snapshot": dg.MetadataValue.path(str(result.snapshot)),
        "patched": dg.MetadataValue.bool(result.patched),
        "parquet": dg.MetadataValue.path(str(result.parquet_dir)),
        "key numbers": dg.MetadataValue.md(summary_markdown(result.snapshot, SNAPSHOT_SCHEMA)),
    }


def _ltv_report(scope: Scope, forecast: dg.AssetsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=scope.key("publish", "ltv_report"),
        deps=[forecast],
        group_name=scope.name("publish"),
        kinds={"html"},
        description="The HTML LTV report (one offline file beside the snapshot), built from "
        "the snapshot once it holds the forecast, so it needs no warehouse lock.",
    )
    def ltv_report(settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
        """Write the report of the freshly published snapshot."""
        result = write_report(scope.settings(settings))
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(result.path)),
                "currencies": dg.MetadataValue.text(", ".join(result.currencies) or "none"),
                "data as of": dg.MetadataValue.text(when(result.as_of)),
                "size (bytes)": dg.MetadataValue.int(result.size_bytes),
            }
        )

    return ltv_report


def _dbt_docs(scope: Scope, snapshot: dg.AssetsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=scope.key("publish", "dbt_docs"),
        deps=[snapshot],
        # The catalog is read from the warehouse, which DuckDB will not open while a writer
        # holds it.
        pool=scope.pool,
        group_name=scope.name("publish"),
        kinds={"dbt", "html"},
        description="The dbt docs site (models, columns, tests, lineage, the last build's "
        "compiled SQL and the warehouse catalog) as one offline HTML file beside the snapshot.",
    )
    def dbt_docs(settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
        """Write the docs of what was just built."""
        path = write_dbt_docs(scope.settings(settings))
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(path)),
                "size (bytes)": dg.MetadataValue.int(path.stat().st_size),
            }
        )

    return dbt_docs
