"""Dagster objects by area: ingest (landing files, webhook log), dbt, publish, resources, each
built per pipeline (`scope`: one per account, or the single one)."""

# The analysts' snapshot (pipeline/defs/publish.py), under each pipeline's scope. The forecast
# follows it, so it is named here, where both modules can import it without each other.
SNAPSHOT_PATH = ("publish", "marts_snapshot")
