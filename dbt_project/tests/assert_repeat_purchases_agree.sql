-- Shown in Dagster as an asset check on marts/repeat_purchase_cohorts (it reads several marts).
{{ config(meta={'dagster': {'ref': {'name': 'repeat_purchase_cohorts'}}}) }}

-- The repeat-purchase marts count the same customers and orders: every acquired customer of
-- dim_customers once, their order 1 the acquiring order and product; per account and
-- currency, the order counts and the product paths add up to the cohorts' customers, repeat
-- customers and orders, and each first product's rows to its buyers. Fails with one row per
-- disagreement.
with first_orders as (

    select orders.customer_id, orders.currency
    from {{ ref('int_customer_orders_ranked') }} as orders
    inner join {{ ref('dim_customers') }} as customers
        on orders.customer_id = customers.customer_id
        and orders.currency = customers.currency
    where orders.order_number = 1
        and orders.order_id = customers.first_order_id
        and orders.product_id = customers.first_product_id

),

acquired as (

    select customers.currency, customers.cohort_month, count(*) as customers,
        count(first_orders.customer_id) as with_acquiring_order
    from {{ ref('dim_customers') }} as customers
    left join first_orders
        on customers.customer_id = first_orders.customer_id
        and customers.currency = first_orders.currency
    where customers.cohort_month is not null
    group by customers.currency, customers.cohort_month

),

cohorts as (

    select currency, cohort_month, sum(customers) as customers
    from {{ ref('repeat_purchase_cohorts') }}
    group by currency, cohort_month

),

cohort_totals as (

    select account, currency, sum(customers) as customers,
        sum(repeat_customers) as repeat_customers, sum(orders) as orders
    from {{ ref('repeat_purchase_cohorts') }}
    group by account, currency

),

order_counts as (

    select account, currency, sum(customers) as customers,
        sum(orders_count * customers) as orders,
        sum(case when orders_count >= 2 then customers else 0 end) as repeat_customers
    from {{ ref('customers_by_order_count') }}
    group by account, currency

),

path_totals as (

    select account, currency, sum(customers) as customers,
        sum(case when next_product_id <> '(none)' then customers else 0 end) as repeat_customers
    from {{ ref('product_paths') }}
    group by account, currency

),

first_products as (

    select account, currency, first_product_id, sum(customers) as customers,
        min(first_product_buyers) as fewest, max(first_product_buyers) as most
    from {{ ref('product_paths') }}
    group by account, currency, first_product_id

)

select 'cohort customers' as disagreement, acquired.currency,
    cast(acquired.cohort_month as {{ dbt.type_string() }}) as detail
from acquired
left join cohorts
    on acquired.currency = cohorts.currency
    and acquired.cohort_month = cohorts.cohort_month
where cohorts.customers is distinct from acquired.customers
    or acquired.with_acquiring_order <> acquired.customers

union all

select 'order counts', cohort_totals.currency, cohort_totals.account
from cohort_totals
left join order_counts
    on cohort_totals.account = order_counts.account
    and cohort_totals.currency = order_counts.currency
where order_counts.customers is distinct from cohort_totals.customers
    or order_counts.orders is distinct from cohort_totals.orders
    or order_counts.repeat_customers is distinct from cohort_totals.repeat_customers

union all

select 'product paths', cohort_totals.currency, cohort_totals.account
from cohort_totals
left join path_totals
    on cohort_totals.account = path_totals.account
    and cohort_totals.currency = path_totals.currency
where path_totals.customers is distinct from cohort_totals.customers
    or path_totals.repeat_customers is distinct from cohort_totals.repeat_customers

union all

select 'first product buyers', currency, first_product_id
from first_products
where customers <> fewest or customers <> most
