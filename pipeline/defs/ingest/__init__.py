"""Dagster side of ingestion: raw assets (`assets`), how they are partitioned (`partitions`),
the sensor that feeds the landing files and the webhook runs' requests (`sensors`; the webhook
log sensor is in `pipeline.defs.automation`), their checks (`checks`), and forgetting files removed
from the landing folder (`forget`). The logic lives in `pipeline.ingest`; these modules only
wire it to Dagster, once per pipeline (`pipeline.defs.scope`, `pipeline.defs.pipeline_defs`).
"""
