{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_customers('email')) }}",
) }}
-- One row per (customer, currency): what each customer paid, and how they were acquired.
-- Amounts of different currencies are never added, so a customer paying in two currencies has
-- two rows. Acquisition is the first payment with amount > 0; a customer without one (only
-- free orders) is kept here with a null cohort and stays out of the LTV marts.
-- Incremental: the customers a build recomputes are replaced (macros/incremental.sql).
with payments as (

    select * from {{ ref('fct_payments') }}
    where {{ in_changed_customers('email') }}

),

acquisitions as (

    -- Items of one checkout share a time: the front-end product is the acquiring item. The
    -- first payment by (paid_at, item type, payment_id) per customer and currency, in one
    -- pass, not a row_number() window sorting every payment.
    {{ first_in_group(
        'payments',
        ['customer_id', 'currency'],
        [(
            ['paid_at', 'paid_date', 'account', 'order_id', 'product_id', 'product_name',
             'campaign_id', 'affiliate_id'],
            ['paid_at is null', 'paid_at', item_rank('item_type'), 'payment_id'],
        )],
        where='amount > 0',
    ) }}

),

revenue as (

    select
        customer_id,
        currency,
        max(email) as email,
        count(distinct case when payment_type = 'charge' then order_id end) as orders_count,
        sum(case when payment_type = 'rebill' then 1 else 0 end) as rebills_count,
        sum(case when payment_type in ('charge', 'rebill') then amount else 0 end)
            as gross_revenue,
        -sum(case when payment_type = 'refund' then amount else 0 end) as refunded_amount,
        sum(amount) as net_revenue,
        sum(margin) as net_margin,
        sum(amount_reporting) as net_revenue_reporting,
        sum(margin_reporting) as net_margin_reporting,
        max(case when payment_type in ('charge', 'rebill') and amount > 0 then paid_at end)
            as last_paid_at
    from payments
    group by customer_id, currency

),

customer_ids as (

    -- Per currency, like the rest of the row: the ids of the webhooks in this currency.
    select
        {{ dbt.hash('email') }} as customer_id,
        currency,
        {{ sorted_array_agg('thrivecart_customer_id') }} as thrivecart_customer_ids
    from {{ ref('int_customer_ids_collected') }}
    where {{ in_changed_customers('email') }}
    group by email, currency

),

attribution as (

    -- Where the acquiring order came from: the passthrough of its earliest live order.success
    -- delivery that carried one (else of its earliest). No delivery: the order is known from
    -- exports only, which carry no passthrough, so it was not tracked.
    select
        acquisitions.customer_id,
        acquisitions.currency,
        attributions.utm_source,
        attributions.utm_medium,
        attributions.utm_campaign,
        row_number() over (
            partition by acquisitions.customer_id, acquisitions.currency
            order by
                case when attributions.passthrough_json is null then 1 else 0 end,
                attributions.received_at,
                attributions.delivery_id
        ) as delivery_rank
    from acquisitions
    inner join {{ ref('int_webhook_order_attribution') }} as attributions
        on acquisitions.account = attributions.account
        and acquisitions.order_id = attributions.order_id

),

active_subscriptions as (

    select customer_id, currency, count(*) as active_subscriptions
    from {{ ref('dim_subscriptions') }}
    where status = 'active' and {{ in_changed_customers('email') }}
    group by customer_id, currency

)

select
    revenue.customer_id,
    revenue.email,
    revenue.currency,
    customers.first_name,
    customers.last_name,
    customers.country,
    customer_ids.thrivecart_customer_ids,
    acquisitions.paid_at as first_paid_at,
    acquisitions.paid_date as first_paid_date,
    cast({{ dbt.date_trunc('month', 'acquisitions.paid_date') }} as date) as cohort_month,
    acquisitions.order_id as first_order_id,
    acquisitions.product_id as first_product_id,
    acquisitions.product_name as first_product_name,
    acquisitions.campaign_id as acquisition_campaign_id,
    acquisitions.affiliate_id as acquisition_affiliate_id,
    {% for key in utm_segments() -%}
    case
        when acquisitions.order_id is null then null
        when attribution.customer_id is null then '(not tracked)'
        else coalesce(attribution.{{ key }}, '(none)')
    end as acquisition_{{ key }},
    {% endfor -%}
    cast(revenue.orders_count as integer) as orders_count,
    cast(revenue.rebills_count as integer) as rebills_count,
    cast(revenue.gross_revenue as decimal(18, 2)) as gross_revenue,
    cast(revenue.refunded_amount as decimal(18, 2)) as refunded_amount,
    cast(revenue.net_revenue as decimal(18, 2)) as net_revenue,
    revenue.last_paid_at,
    cast(coalesce(active_subscriptions.active_subscriptions, 0) as integer)
        as active_subscriptions,
    cast(revenue.net_margin as decimal(18, 2)) as net_margin,
    cast(revenue.net_revenue_reporting as decimal(18, 2)) as net_revenue_reporting,
    cast(revenue.net_margin_reporting as decimal(18, 2)) as net_margin_reporting

from revenue
inner join {{ ref('int_customers_identified') }} as customers
    on revenue.customer_id = customers.customer_id
left join acquisitions
    on revenue.customer_id = acquisitions.customer_id
    and revenue.currency = acquisitions.currency
left join customer_ids
    on revenue.customer_id = customer_ids.customer_id
    and revenue.currency = customer_ids.currency
left join attribution
    on revenue.customer_id = attribution.customer_id
    and revenue.currency = attribution.currency
    and attribution.delivery_rank = 1
left join active_subscriptions
    on revenue.customer_id = active_subscriptions.customer_id
    and revenue.currency = active_subscriptions.currency
