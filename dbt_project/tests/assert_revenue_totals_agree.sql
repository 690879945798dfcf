-- Shown in Dagster as an asset check on marts/fct_payments (it reads several marts).
{{ config(meta={'dagster': {'ref': {'name': 'fct_payments'}}}) }}

-- Per currency, every mart tells the same total: the payments, the customers' net revenue,
-- the last cumulative value of every cohort, the daily revenue and the source reconciliation.
-- The cohorts hold acquired customers only: a customer without a payment > 0 (free orders, or
-- a refund whose charge the webhook feed lost after the last export) is in dim_customers
-- with a null cohort, so the cohorts plus those customers' net revenue make the total.
-- Fails with one row per currency where any two disagree.
with payments as (

    select currency, sum(amount) as total
    from {{ ref('fct_payments') }}
    group by currency

),

customers as (

    select currency, sum(net_revenue) as total
    from {{ ref('dim_customers') }}
    group by currency

),

cohort_finals as (

    select
        currency,
        cumulative_net_revenue,
        row_number() over (
            partition by currency, cohort_month order by months_since_acquisition desc nulls last
        ) as recency
    from {{ ref('ltv_cohorts_monthly') }}

),

cohorts as (

    select currency, sum(cumulative_net_revenue) as total
    from cohort_finals
    where recency = 1
    group by currency

),

never_acquired as (

    select currency, sum(net_revenue) as total
    from {{ ref('dim_customers') }}
    where cohort_month is null
    group by currency

),

daily as (

    select currency, sum(net_revenue) as total
    from {{ ref('revenue_daily') }}
    group by currency

),

reconciled as (

    select currency, sum(csv_only_amount + webhook_only_amount + matched_amount) as total
    from {{ ref('source_reconciliation') }}
    group by currency

)

select
    payments.currency,
    payments.total as payments_total,
    customers.total as customers_total,
    cohorts.total as cohorts_total,
    never_acquired.total as never_acquired_total,
    daily.total as daily_total,
    reconciled.total as reconciled_total
from payments
left join customers on payments.currency = customers.currency
left join cohorts on payments.currency = cohorts.currency
left join never_acquired on payments.currency = never_acquired.currency
left join daily on payments.currency = daily.currency
left join reconciled on payments.currency = reconciled.currency
where customers.total is distinct from payments.total
    or coalesce(cohorts.total, 0) + coalesce(never_acquired.total, 0) <> payments.total
    or daily.total is distinct from payments.total
    or reconciled.total is distinct from payments.total
