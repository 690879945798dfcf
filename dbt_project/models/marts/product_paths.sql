-- One row per (account, currency, first product, next product): what the buyers of a first
-- product bought in their second order, and how many days later. Buyers without a second order
-- are next product '(none)', so the shares of one first product add up to 1.
with orders as (

    select * from {{ ref('int_customer_orders_ranked') }}
    where order_number <= 2

),

paths as (

    select
        first_orders.account,
        first_orders.currency,
        first_orders.product_id as first_product_id,
        coalesce(next_orders.product_id, '(none)') as next_product_id,
        next_orders.days_since_acquisition as days_between
    from orders as first_orders
    left join orders as next_orders
        on first_orders.customer_id = next_orders.customer_id
        and first_orders.currency = next_orders.currency
        and next_orders.order_number = 2
    where first_orders.order_number = 1

),

aggregated as (

    select
        account,
        currency,
        first_product_id,
        next_product_id,
        count(*) as customers,
        sum(count(*)) over (partition by account, currency, first_product_id)
            as first_product_buyers,
        {{ median('days_between') }} as median_days_between
    from paths
    group by account, currency, first_product_id, next_product_id

),

product_names as (

    -- One name per product, the one of its latest order counted here: a renamed product shows
    -- under its new name in every row.
    select
        account,
        currency,
        product_id,
        product_name,
        row_number() over (
            partition by account, currency, product_id
            order by purchased_at desc nulls last, product_name desc nulls last
        ) as recency
    from orders

)

select
    aggregated.account,
    aggregated.currency,
    aggregated.first_product_id,
    first_names.product_name as first_product_name,
    aggregated.next_product_id,
    next_names.product_name as next_product_name,
    cast(aggregated.customers as integer) as customers,
    cast(aggregated.first_product_buyers as integer) as first_product_buyers,
    {{ rounded_quotient('aggregated.customers', 'aggregated.first_product_buyers', 4) }}
        as share_of_first_product_buyers,
    cast(aggregated.median_days_between as decimal(18, 1)) as median_days_between

from aggregated
left join product_names as first_names
    on aggregated.account = first_names.account
    and aggregated.currency = first_names.currency
    and aggregated.first_product_id = first_names.product_id
    and first_names.recency = 1
left join product_names as next_names
    on aggregated.account = next_names.account
    and aggregated.currency = next_names.currency
    and aggregated.next_product_id = next_names.product_id
    and next_names.recency = 1
