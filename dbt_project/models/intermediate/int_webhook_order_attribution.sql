{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_units('segment_day', 'webhook')) }}",
) }}
-- The checkout parameters (passthrough) of every live order.success delivery, duplicates
-- included: where each tracked order came from. Exports carry no passthrough, so an order
-- without a row here was not tracked. Stored per webhook day like int_webhook_movements.
-- depends_on: {{ ref('int_build_units') }}
select
    account,
    order_id,
    delivery_id,
    segment_day,
    received_at,
    passthrough_json,
    utm_source,
    utm_medium,
    utm_campaign,
    utm_content,
    utm_term,
    fbclid,
    gclid
from {{ ref('stg_thrivecart__webhook_events') }}
where event_family = 'order'
    and not is_test
    and order_id is not null
    and {{ in_changed_units('segment_day', 'webhook') }}
