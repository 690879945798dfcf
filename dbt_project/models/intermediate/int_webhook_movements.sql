{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_units('segment_day', 'webhook')) }}",
) }}
-- Every webhook money movement of every delivery (duplicates included), stored once: each
-- payload is parsed when its day is loaded, not at every build. An incremental build replaces
-- the webhook days loaded since the last build (macros/incremental.sql).
-- depends_on: {{ ref('int_build_units') }}
select
    coalesce(order_id, '') as order_key,
    *
from {{ ref('int_money_movements_unioned') }}
where source = 'webhook'
    and {{ in_changed_units('segment_day', 'webhook') }}
