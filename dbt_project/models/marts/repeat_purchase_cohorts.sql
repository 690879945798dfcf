-- One row per (account, currency, cohort month): how many of the month's new customers bought
-- a second order, how soon, and how many orders they bought on average, to date.
with cohorts as (

    select
        account,
        currency,
        cohort_month,
        cast(sum(case when order_number = 1 then 1 else 0 end) as integer) as customers,
        cast(sum(case when order_number = 2 then 1 else 0 end) as integer) as repeat_customers,
        cast(count(*) as integer) as orders,
        cast(
            {{ median('case when order_number = 2 then days_since_acquisition end') }}
            as decimal(18, 1)
        ) as median_days_to_second_order
    from {{ ref('int_customer_orders_ranked') }}
    group by account, currency, cohort_month

)

-- The contract orders the columns.
select
    cohorts.*,
    {{ rounded_quotient('repeat_customers', 'customers', 4) }} as repeat_rate,
    {{ rounded_quotient('orders', 'customers', 2) }} as avg_orders_per_customer
from cohorts
