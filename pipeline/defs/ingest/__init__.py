"""Dagster side of ingestion: raw assets (`assets`), how they are partitioned (`partitions`),
the sensor that feeds the landing files and the webhook runs' requests (`sensors`; the webhook
log sensor is in `pipeline.defs.automation`), their checks (`checks`), and forgetting files removed
from the landing folder (`forget`). The logic lives in
`pipeline.ingest`; these modules only wire it to Dagster.
"""

import dagster as dg

from pipeline.defs.ingest.assets import (
    LANDING_ASSETS,
    LANDING_JOBS,
    WEBHOOK_JOB,
    raw_thrivecart_webhook_events,
)
from pipeline.defs.ingest.checks import RAW_CHECKS
from pipeline.defs.ingest.forget import forget_landing_files, landing_removals_sensor
from pipeline.defs.ingest.sensors import landing_files_sensor

defs = dg.Definitions(
    assets=[*LANDING_ASSETS.values(), raw_thrivecart_webhook_events],
    asset_checks=RAW_CHECKS,
    jobs=[*LANDING_JOBS.values(), WEBHOOK_JOB, forget_landing_files],
    sensors=[landing_files_sensor, landing_removals_sensor],
)
