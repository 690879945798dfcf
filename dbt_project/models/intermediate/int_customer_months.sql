{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_customers('email')) }}",
) }}
-- One row per (customer, currency, month since acquisition) in which the customer has a
-- payment on either clock: what they paid that month (cash clock: the payment's date; charge
-- clock: a refund in the month of the payment it refunds) and whether they paid above zero.
-- Months count calendar months from the cohort month; a payment dated before acquisition (a
-- free order, so amount 0) counts in month 0. Kept per customer, only the customers a build
-- recomputes are replaced (macros/incremental.sql); ltv_cohorts_monthly adds it up.
with customers as (

    select customer_id, email, currency, cohort_month
    from {{ ref('dim_customers') }}
    where cohort_month is not null and {{ in_changed_customers('email') }}

),

cohort_payments as (

    select
        customers.customer_id,
        customers.email,
        customers.currency,
        customers.cohort_month,
        payments.amount,
        payments.margin,
        payments.amount_reporting,
        payments.margin_reporting,
        case
            when payments.payment_type in ('charge', 'rebill') and payments.amount > 0 then 1
            else 0
        end as is_paying,
        greatest(
            {{ dbt.datediff('customers.cohort_month', 'payments.paid_date', 'month') }}, 0
        ) as cash_month,
        greatest(
            {{ dbt.datediff('customers.cohort_month', 'payments.charge_clock_date', 'month') }}, 0
        ) as charge_clock_month
    from {{ ref('fct_payments') }} as payments
    inner join customers
        on payments.customer_id = customers.customer_id
        and payments.currency = customers.currency
    where {{ in_changed_customers('payments.email') }}

),

by_clock as (

    select
        customer_id, email, currency, cohort_month,
        cash_month as months_since_acquisition,
        is_paying,
        amount as net_revenue,
        margin as net_margin,
        amount_reporting as net_revenue_reporting,
        margin_reporting as net_margin_reporting,
        cast(0 as decimal(18, 2)) as net_revenue_charge_clock
    from cohort_payments
    union all
    select
        customer_id, email, currency, cohort_month,
        charge_clock_month,
        0,
        cast(0 as decimal(18, 2)),
        cast(0 as decimal(18, 2)),
        cast(null as decimal(18, 2)),
        cast(null as decimal(18, 2)),
        amount
    from cohort_payments

)

select
    customer_id,
    email,
    currency,
    cohort_month,
    cast(months_since_acquisition as integer) as months_since_acquisition,
    cast(max(is_paying) as integer) as is_paying,
    cast(sum(net_revenue) as decimal(18, 2)) as net_revenue,
    cast(sum(net_margin) as decimal(18, 2)) as net_margin,
    cast(sum(net_revenue_reporting) as decimal(18, 2)) as net_revenue_reporting,
    cast(sum(net_margin_reporting) as decimal(18, 2)) as net_margin_reporting,
    cast(sum(net_revenue_charge_clock) as decimal(18, 2)) as net_revenue_charge_clock
from by_clock
group by customer_id, email, currency, cohort_month, months_since_acquisition
