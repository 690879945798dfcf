{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_units('file_sha256', 'csv')) }}",
) }}
-- One row per loaded Transactions export: its age, the latest money movement it holds. Its
-- file name and load time say nothing dependable (files are renamed, and may be loaded in any
-- order). Computed once per file, when it is loaded (macros/incremental.sql).
select
    file_sha256,
    max(paid_at) as export_latest_at
from {{ ref('int_money_movements_unioned') }}
where source = 'csv' and {{ in_changed_units('file_sha256', 'csv') }}
group by file_sha256
