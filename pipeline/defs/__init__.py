"""Dagster objects by area: ingest (landing files, webhook log), dbt, publish, resources."""

import dagster as dg

# Every asset that writes the DuckDB warehouse runs in this pool. Its limit of 1 (set in the
# dagster.yaml installed into DAGSTER_HOME) serialises writers: DuckDB allows one writing
# process per file, and two overlapping runs would otherwise fail with a lock error.
WAREHOUSE_POOL = "duckdb_warehouse"

# The analysts' snapshot (pipeline/defs/publish.py). The forecast follows it, so it is named
# here, where both modules can import it without importing each other.
SNAPSHOT_KEY = dg.AssetKey(["publish", "marts_snapshot"])
