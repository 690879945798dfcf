-- as_of: the time of the latest event the warehouse has seen in live data, from any source.
-- Export rows count as dated in the file (converted to UTC); webhooks by their event time,
-- never by when they were received. One row.
with test_orders as (

    -- Exports carry no test flag; an order only ever seen in test-mode webhooks is a test.
    select order_id
    from {{ ref('stg_thrivecart__webhook_events') }}
    where order_id is not null
    group by order_id
    having min(case when is_test then 1 else 0 end) = 1

),

event_times as (

    select max(ordered_at) as latest_at
    from {{ ref('stg_thrivecart__transactions') }}
    where order_id not in (select order_id from test_orders)

    union all

    select max(started_at)
    from {{ ref('stg_thrivecart__subscriptions') }}

    union all

    select max(event_at)
    from {{ ref('stg_thrivecart__webhook_events') }}
    where not is_test

)

select
    max(latest_at) as as_of,
    cast({{ convert_timezone('max(latest_at)', 'UTC', var('ltv_timezone')) }} as date)
        as as_of_date
from event_times
