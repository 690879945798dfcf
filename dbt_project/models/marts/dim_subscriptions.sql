{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_subscriptions('subscription_id')) }}",
) }}
-- One row per subscription (live data only): what it is, its state, what it collected.
-- Incremental: the subscriptions a build recomputes are replaced (macros/incremental.sql).
select
    subscription_id,
    customer_id,
    email,
    order_id,
    product_id,
    product_name,
    kind,
    status,
    started_at,
    frequency,
    amount,
    currency,
    cast(payments_collected as integer) as payments_collected,
    cast(collected_amount as decimal(18, 2)) as collected_amount,
    cast(refunded_amount as decimal(18, 2)) as refunded_amount,
    last_payment_at,
    cancelled_at,
    processor_subscription_id

from {{ ref('int_subscriptions_merged') }}
where {{ in_changed_subscriptions('subscription_id') }}
