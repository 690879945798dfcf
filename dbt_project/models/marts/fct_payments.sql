{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_orders('order_id')) }}",
) }}
-- One row per payment: every real money movement counted exactly once, test mode excluded.
-- Incremental: the orders a build recomputes are replaced (macros/incremental.sql).
with payments as (

    select *
    from {{ ref('int_payments_deduplicated') }}
    where not is_test and {{ in_changed_orders('order_id') }}

),

refunded_charges as (

    -- The charge clock dates a refund by the payment it refunds: the latest charge or rebill
    -- of the same order and item at or before the refund. A refund stays on its own date
    -- when none is known (its charge was lost). Everything it needs is in its own order, so
    -- it is recomputed with the order.
    select
        refunds.payment_id,
        max(charges.paid_date) as charged_date
    from payments as refunds
    inner join payments as charges
        on refunds.account = charges.account
        and refunds.order_id = charges.order_id
        and refunds.item_id = charges.item_id
        and charges.payment_type in ('charge', 'rebill')
        and charges.paid_at <= refunds.paid_at
    where refunds.payment_type = 'refund'
    group by refunds.payment_id

)

select
    payments.payment_id,
    payments.account,
    payments.customer_id,
    payments.email,
    payments.order_id,
    payments.item_type,
    payments.item_id as product_id,
    payments.item_name as product_name,
    payments.subscription_id,
    payments.payment_type,
    payments.paid_at,
    payments.paid_date,
    coalesce(refunded_charges.charged_date, payments.paid_date) as charge_clock_date,
    payments.amount,
    payments.tax_amount,
    payments.currency,
    payments.campaign_id,
    payments.affiliate_id,
    payments.source,
    payments.matched_by,
    payments.is_dated_by_order,
    payments.processor_charge_id,
    payments.invoice_id,
    payments.coupon,
    payments.processor

from payments
left join refunded_charges
    on payments.payment_id = refunded_charges.payment_id
