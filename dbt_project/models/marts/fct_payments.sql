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

),

fees as (

    -- docs/costs.md: the fee rule in force on the payment's day for its account, processor and
    -- currency, an exact account or processor before '*'. Charges and rebills above zero only:
    -- a refund returns no fee.
    select
        payments.payment_id,
        cast(round(
            payments.amount * rules.fee_percent * 0.01 + rules.fee_fixed, 2
        ) as decimal(18, 2)) as processor_fee,
        row_number() over (
            partition by payments.payment_id
            order by
                case when rules.account = '*' then 1 else 0 end,
                case when rules.processor = '*' then 1 else 0 end
        ) as precedence
    from payments
    inner join {{ ref('stg_inputs__processor_fees') }} as rules
        on rules.account in (lower(payments.account), '*')
        and rules.processor in (lower(payments.processor), '*')
        and rules.currency = payments.currency
        and payments.paid_date >= rules.valid_from
        and (rules.valid_until is null or payments.paid_date < rules.valid_until)
    where payments.payment_type in ('charge', 'rebill') and payments.amount > 0

),

product_costs as (

    -- The cost per sale in force on the payment's day for its item; an exact account first.
    select
        payments.payment_id,
        rules.cost_per_sale as product_cost,
        row_number() over (
            partition by payments.payment_id
            order by case when rules.account = '*' then 1 else 0 end
        ) as precedence
    from payments
    inner join {{ ref('stg_inputs__product_costs') }} as rules
        on rules.account in (lower(payments.account), '*')
        and rules.item_type = payments.item_type
        and rules.product_id = payments.item_id
        and rules.currency = payments.currency
        and payments.paid_date >= rules.valid_from
        and (rules.valid_until is null or payments.paid_date < rules.valid_until)
    where payments.payment_type in ('charge', 'rebill') and payments.amount > 0

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
    payments.processor,
    fees.processor_fee,
    product_costs.product_cost,
    cast(
        payments.amount
        - coalesce(fees.processor_fee, 0)
        - coalesce(product_costs.product_cost, 0)
        as decimal(18, 2)
    ) as margin

from payments
left join refunded_charges
    on payments.payment_id = refunded_charges.payment_id
left join fees
    on payments.payment_id = fees.payment_id
    and fees.precedence = 1
left join product_costs
    on payments.payment_id = product_costs.payment_id
    and product_costs.precedence = 1
