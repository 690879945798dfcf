{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_orders('order_id')) }}",
) }}
-- The payment rules index (models/docs.md, doc block `payment_rules`) lists every rule,
-- where it lives and the test that pins it.
-- Dedupe rule 1: one row per webhook money movement. ThriveCart redelivers the same event
-- (same payload, so the same delivery_id) and can send one event twice with small differences
-- (so only the natural key agrees); the first delivery received wins.
-- Incremental: an order's deliveries are ranked again when the build recomputes it
-- (macros/incremental.sql); a natural key never spans two orders.
with webhook_movements as (

    select * from {{ ref('int_webhook_movements') }}
    where {{ in_changed_orders('order_id') }}

),

deliveries_ranked as (

    -- Ranked on the keys alone: the wide rows join back once a delivery is chosen.
    select
        movement_id,
        row_number() over (
            partition by natural_key order by received_at, delivery_id
        ) as delivery_rank,
        count(*) over (partition by natural_key) as deliveries_seen
    from webhook_movements

)

select
    webhook_movements.movement_id,
    webhook_movements.natural_key,
    deliveries_ranked.deliveries_seen,
    webhook_movements.payment_type,
    webhook_movements.is_test,
    webhook_movements.account,
    webhook_movements.order_id,
    webhook_movements.item_type,
    webhook_movements.item_id,
    webhook_movements.item_name,
    webhook_movements.subscription_id,
    webhook_movements.processor_subscription_id,
    webhook_movements.amount,
    webhook_movements.tax_amount,
    webhook_movements.currency,
    webhook_movements.paid_at,
    webhook_movements.processor_charge_id,
    webhook_movements.event_id,
    webhook_movements.webhook_id,
    webhook_movements.invoice_id,
    webhook_movements.email,
    webhook_movements.first_name,
    webhook_movements.last_name,
    webhook_movements.country,
    webhook_movements.thrivecart_customer_id,
    webhook_movements.processor,
    webhook_movements.received_at,
    webhook_movements.delivery_id

from deliveries_ranked
inner join webhook_movements
    on deliveries_ranked.movement_id = webhook_movements.movement_id
where deliveries_ranked.delivery_rank = 1
