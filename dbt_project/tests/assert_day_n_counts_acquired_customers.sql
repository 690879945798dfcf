-- Shown in Dagster as an asset check on marts/ltv_day_n (it reads several marts).
{{ config(meta={'dagster': {'ref': {'name': 'ltv_day_n'}}}) }}

-- ltv_day_n's 'all' segment counts exactly the acquired customers of dim_customers, for every
-- day N, and never more eligible customers than acquired ones. Fails with the offending rows.
with acquired as (

    select currency, count(*) as customers
    from {{ ref('dim_customers') }}
    where first_paid_at is not null
    group by currency

)

select day_n.*
from {{ ref('ltv_day_n') }} as day_n
left join acquired
    on day_n.currency = acquired.currency
where day_n.eligible_customers > day_n.customers
    or (day_n.segment_type = 'all' and day_n.customers is distinct from acquired.customers)
