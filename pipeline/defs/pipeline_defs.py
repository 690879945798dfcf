"""Every Dagster object of one pipeline (one account's, or the single one), built once.

The code location merges one of these per account (`pipeline/definitions.py`); `ltv run`
materializes the same objects in process (`pipeline/run/driver.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import dagster as dg

from pipeline.defs.automation import Automation
from pipeline.defs.dbt import dbt_models
from pipeline.defs.forecast import ltv_forecast
from pipeline.defs.ingest.assets import IngestAssets, ingest_assets
from pipeline.defs.ingest.checks import checks_for, raw_asset_checks
from pipeline.defs.ingest.forget import forget_job, landing_removals_sensor
from pipeline.defs.ingest.sensors import landing_files_sensor
from pipeline.defs.publish import publish_assets
from pipeline.defs.scope import Scope


@dataclass(frozen=True)
class PipelineDefs:
    """One pipeline's raw assets and checks, dbt models, forecast, publishing and automation."""

    scope: Scope
    ingest: IngestAssets
    raw_checks: list[dg.AssetChecksDefinition]
    forget_job: dg.JobDefinition
    landing_files_sensor: dg.SensorDefinition
    landing_removals_sensor: dg.SensorDefinition
    dbt_models: dg.AssetsDefinition
    forecast: dg.AssetsDefinition
    publish: list[dg.AssetsDefinition]
    automation: Automation

    @property
    def build_assets(self) -> list[dg.AssetsDefinition]:
        """What a build materializes after the loads: models, forecast, publishing."""
        return [self.dbt_models, self.forecast, *self.publish]

    def checks_for(self, asset: dg.AssetsDefinition) -> list[dg.AssetChecksDefinition]:
        """The raw checks to run beside `asset`."""
        return checks_for(self.raw_checks, asset)

    def ingest_definitions(self) -> dg.Definitions:
        """The raw assets, their checks, the load and forget jobs and the landing sensors."""
        ingest = self.ingest
        return dg.Definitions(
            assets=ingest.all,
            asset_checks=self.raw_checks,
            jobs=[*ingest.landing_jobs.values(), ingest.webhook_job, self.forget_job],
            sensors=[self.landing_files_sensor, self.landing_removals_sensor],
        )

    def definitions(self) -> dg.Definitions:
        """Everything, for the code location (resources are added once for all pipelines)."""
        return dg.Definitions.merge(
            self.ingest_definitions(),
            dg.Definitions(assets=self.build_assets),
            self.automation.definitions(),
        )


@cache
def pipeline_defs(scope: Scope) -> PipelineDefs:
    """The Dagster objects of `scope`'s pipeline (the same objects on every call)."""
    ingest = ingest_assets(scope)
    forget = forget_job(ingest)
    return PipelineDefs(
        scope=scope,
        ingest=ingest,
        raw_checks=raw_asset_checks(ingest),
        forget_job=forget,
        landing_files_sensor=landing_files_sensor(ingest),
        landing_removals_sensor=landing_removals_sensor(ingest, forget),
        dbt_models=dbt_models(scope),
        forecast=ltv_forecast(scope),
        publish=publish_assets(scope),
        automation=Automation(ingest),
    )
