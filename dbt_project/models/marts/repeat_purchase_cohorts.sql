-- One row per (account, currency, cohort month): how many of the month's new customers bought
-- a second order, how soon, and how many orders they bought on average, to date.
with orders as (

    select * from {{ ref('int_customer_orders_ranked') }}

),

cohorts as (

    select
        account,
        currency,
        cohort_month,
        sum(case when order_number = 1 then 1 else 0 end) as customers,
        sum(case when order_number = 2 then 1 else 0 end) as repeat_customers,
        count(*) as orders,
        {{ median('case when order_number = 2 then days_since_acquisition end') }}
            as median_days_to_second_order
    from orders
    group by account, currency, cohort_month

)

select
    account,
    currency,
    cohort_month,
    cast(customers as integer) as customers,
    cast(repeat_customers as integer) as repeat_customers,
    {{ rounded_quotient('repeat_customers', 'customers', 4) }} as repeat_rate,
    cast(median_days_to_second_order as decimal(18, 1)) as median_days_to_second_order,
    cast(orders as integer) as orders,
    {{ rounded_quotient('orders', 'customers', 2) }} as avg_orders_per_customer

from cohorts
