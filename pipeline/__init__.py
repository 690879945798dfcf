"""ThriveCart customer-lifetime-value pipeline: sidecar, ingestion, dbt marts."""
