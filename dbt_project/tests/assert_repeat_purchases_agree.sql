-- Shown in Dagster as an asset check on marts/repeat_purchase_cohorts (it reads several marts).
{{ config(meta={'dagster': {'ref': {'name': 'repeat_purchase_cohorts'}}}) }}

-- The repeat-purchase marts count the same customers and orders. Per currency and cohort month:
-- dim_customers' acquired customers, the cohorts' customers, and the customers whose order 1
-- is their acquiring order and product. Per account and currency: the cohorts, the order
-- counts and the product paths tell the same customers, repeat customers and orders. Per first
-- product: its paths add up to its buyers. Fails with one row per disagreement.
with cohort_tallies as (

    select currency, cohort_month, count(*) as customers
    from {{ ref('dim_customers') }}
    where cohort_month is not null
    group by currency, cohort_month

    union all

    select currency, cohort_month, sum(customers)
    from {{ ref('repeat_purchase_cohorts') }}
    group by currency, cohort_month

    union all

    select customers.currency, customers.cohort_month, count(*)
    from {{ ref('int_customer_orders_ranked') }} as orders
    inner join {{ ref('dim_customers') }} as customers
        on orders.customer_id = customers.customer_id
        and orders.currency = customers.currency
        and orders.order_id = customers.first_order_id
        and orders.product_id = customers.first_product_id
    where orders.order_number = 1
    group by customers.currency, customers.cohort_month

),

account_tallies as (

    select account, currency, sum(customers) as customers,
        sum(repeat_customers) as repeat_customers, sum(orders) as orders
    from {{ ref('repeat_purchase_cohorts') }}
    group by account, currency

    union all

    select account, currency, sum(customers),
        sum(case when orders_count >= 2 then customers else 0 end),
        sum(orders_count * customers)
    from {{ ref('customers_by_order_count') }}
    group by account, currency

    union all

    -- Paths tell no orders beyond the second: null, which the comparison passes over.
    select account, currency, sum(customers),
        sum(case when next_product_id <> '(none)' then customers else 0 end), null
    from {{ ref('product_paths') }}
    group by account, currency

)

select 'cohort customers' as disagreement, currency,
    cast(cohort_month as {{ dbt.type_string() }}) as detail
from cohort_tallies
group by currency, cohort_month
having count(*) <> 3 or count(distinct customers) > 1

union all

select 'customers, repeat customers or orders', currency, account
from account_tallies
group by account, currency
having count(*) <> 3
    or count(distinct customers) > 1
    or count(distinct repeat_customers) > 1
    or count(distinct orders) > 1

union all

select 'first product buyers', currency, first_product_id
from {{ ref('product_paths') }}
group by account, currency, first_product_id
having sum(customers) <> min(first_product_buyers)
    or sum(customers) <> max(first_product_buyers)
