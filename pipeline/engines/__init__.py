"""What differs between the warehouses the dbt project builds on (LTV_ENGINE)."""
