"""Ingestion logic that needs no Dagster: landing scan, header mapping, CSV and webhook loads.

`pipeline/defs/ingest/` wraps these in assets and sensors; everything here is plain Python
over paths and DuckDB connections, so it is tested without Dagster.
"""
