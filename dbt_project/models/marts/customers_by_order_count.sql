-- One row per (account, currency, number of orders): how many customers bought that many
-- orders to date. Every acquired customer bought at least one.
with customer_orders as (

    select account, currency, customer_id, count(*) as orders_count
    from {{ ref('int_customer_orders_ranked') }}
    group by account, currency, customer_id

)

select
    account,
    currency,
    cast(orders_count as integer) as orders_count,
    cast(count(*) as integer) as customers

from customer_orders
group by account, currency, orders_count
