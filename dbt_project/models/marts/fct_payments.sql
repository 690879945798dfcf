{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_orders('order_id')) }}",
) }}
-- One row per payment: every real money movement counted exactly once, test mode excluded.
-- Incremental: the orders a build recomputes are replaced (macros/incremental.sql).
-- The rates are read only with a reporting currency; the lineage names them either way:
-- depends_on: {{ ref('int_fx_rate_periods') }}
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

),
{%- set reporting = var('reporting_currency') %}
{%- if reporting %}

conversions as (

    -- LTV_REPORTING_CURRENCY (docs/costs.md): the rates in force on the payment's day, of its
    -- currency and of the reporting currency against one base (the euro first, then by name).
    -- Without a reporting currency nothing is converted, so this is not compiled at all.
    select
        payments.payment_id,
        to_rates.rate as rate_to,
        from_rates.rate as rate_from,
        case
            when to_rates.rate_date < from_rates.rate_date then to_rates.rate_date
            else from_rates.rate_date
        end as fx_rate_date,
        row_number() over (
            partition by payments.payment_id
            order by case when from_rates.base = 'EUR' then 0 else 1 end, from_rates.base
        ) as preference
    from payments
    inner join {{ ref('int_fx_rate_periods') }} as from_rates
        on from_rates.currency = payments.currency
        and payments.paid_date >= from_rates.rate_date
        and (from_rates.next_rate_date is null or payments.paid_date < from_rates.next_rate_date)
    inner join {{ ref('int_fx_rate_periods') }} as to_rates
        on to_rates.base = from_rates.base
        and to_rates.currency = '{{ reporting }}'
        and payments.paid_date >= to_rates.rate_date
        and (to_rates.next_rate_date is null or payments.paid_date < to_rates.next_rate_date)
    where payments.currency <> '{{ reporting }}'

),
{%- endif %}

costed as (

    select
        payments.*,
        coalesce(refunded_charges.charged_date, payments.paid_date) as charge_clock_date,
        fees.processor_fee,
        product_costs.product_cost,
        cast(
            payments.amount
            - coalesce(fees.processor_fee, 0)
            - coalesce(product_costs.product_cost, 0)
            as decimal(18, 2)
        ) as margin,
        {% if reporting -%}
        conversions.rate_to,
        conversions.rate_from,
        conversions.fx_rate_date
        {%- else -%}
        cast(null as date) as fx_rate_date
        {%- endif %}
    from payments
    left join refunded_charges
        on payments.payment_id = refunded_charges.payment_id
    left join fees
        on payments.payment_id = fees.payment_id
        and fees.precedence = 1
    left join product_costs
        on payments.payment_id = product_costs.payment_id
        and product_costs.precedence = 1
    {%- if reporting %}
    left join conversions
        on payments.payment_id = conversions.payment_id
        and conversions.preference = 1
    {%- endif %}

)

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
    charge_clock_date,
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
    processor,
    processor_fee,
    product_cost,
    margin,
    {% for measure in ['amount', 'margin'] -%}
    {% if reporting -%}
    case
        when currency = '{{ reporting }}' then {{ measure }}
        when rate_from is not null
            then {{ convert_money(measure, 'rate_to', 'rate_from') }}
    end
    {%- else -%}
    cast(null as decimal(18, 2))
    {%- endif %} as {{ measure }}_reporting,
    {% endfor -%}
    fx_rate_date
from costed
