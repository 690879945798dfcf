{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_orders('order_id')) }}",
) }}
-- One row per payment: every real money movement counted exactly once, test mode excluded.
-- Incremental: the orders a build recomputes are replaced (macros/incremental.sql).
select
    payment_id,
    account,
    customer_id,
    email,
    order_id,
    item_type,
    item_id as product_id,
    item_name as product_name,
    subscription_id,
    payment_type,
    paid_at,
    paid_date,
    amount,
    tax_amount,
    currency,
    campaign_id,
    affiliate_id,
    source,
    matched_by,
    is_dated_by_order,
    processor_charge_id,
    invoice_id,
    coupon,
    processor

from {{ ref('int_payments_deduplicated') }}
where not is_test and {{ in_changed_orders('order_id') }}
