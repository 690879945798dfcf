{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_customers('email')) }}",
) }}
-- One row per order an acquired customer bought, numbered in the order they bought them. An
-- order counts once one of its payments is above zero (its charge; after a 100% coupon, a
-- rebill of its subscription), at the time of the first such payment, and a refund never takes
-- it back. The first payment above zero is the acquisition, so the acquiring order is always
-- order 1. An order's product is its front item, ranked as dim_customers ranks the acquiring
-- payment. The repeat-purchase marts count these rows. A customer's orders depend on their
-- payments only, so only the customers a build recomputes are replaced (macros/incremental.sql).
with customers as (

    select customer_id, email, currency, cohort_month, first_paid_date
    from {{ ref('dim_customers') }}
    where cohort_month is not null and {{ in_changed_customers('email') }}

),

paid_items as (

    select
        customer_id,
        currency,
        account,
        order_id,
        product_id,
        product_name,
        paid_at,
        paid_date,
        payment_id,
        {{ item_rank('item_type') }} as item_rank
    from {{ ref('fct_payments') }}
    where amount > 0 and {{ in_changed_customers('email') }}

),

front_items as (

    -- Each order's first payment above zero: the front item of its checkout.
    select
        paid_items.*,
        row_number() over (
            partition by customer_id, currency, order_id
            order by paid_at, item_rank, payment_id
        ) as rank_in_order
    from paid_items

),

orders as (

    -- Only acquired customers' orders; ranked by the time bought.
    select
        front_items.*,
        customers.email,
        customers.cohort_month,
        customers.first_paid_date,
        row_number() over (
            partition by front_items.customer_id, front_items.currency
            order by front_items.paid_at, front_items.item_rank, front_items.payment_id
        ) as order_number
    from front_items
    inner join customers
        on front_items.customer_id = customers.customer_id
        and front_items.currency = customers.currency
    where front_items.rank_in_order = 1

)

select
    customer_id,
    email,
    currency,
    -- The customer's account is the acquiring order's, on every order of theirs.
    coalesce(
        max(case when order_number = 1 then account end)
            over (partition by customer_id, currency),
        '(unknown)'
    ) as account,
    cohort_month,
    order_id,
    cast(order_number as integer) as order_number,
    paid_at as purchased_at,
    paid_date as purchased_date,
    cast(
        {{ dbt.datediff('first_paid_date', 'paid_date', 'day') }} as integer
    ) as days_since_acquisition,
    product_id,
    product_name
from orders
