-- as_of: the time of the latest event the warehouse has seen in live data, from any source.
-- Export rows count as dated in the file (converted to UTC); webhooks by their event time,
-- never by when they were received. One row.
with event_times as (

    select max(transactions.ordered_at) as latest_at
    from {{ ref('stg_thrivecart__transactions') }} as transactions
    left join {{ ref('int_webhook_orders_classified') }} as orders
        on transactions.order_id = orders.order_id
    where not coalesce(orders.is_test_only, false)

    union all

    select max(started_at)
    from {{ ref('stg_thrivecart__subscriptions') }}

    union all

    -- Orders, rebills and refunds: their event times.
    select max(paid_at)
    from {{ ref('int_webhook_payments_deduplicated') }}
    where not is_test

    union all

    select max(cancelled_at)
    from {{ ref('stg_thrivecart__webhook_cancellations') }}
    where not is_test

    union all

    select max(failed_at)
    from {{ ref('stg_thrivecart__webhook_failed_rebills') }}
    where not is_test

)

select
    max(latest_at) as as_of,
    cast({{ convert_timezone('max(latest_at)', 'UTC', var('ltv_timezone')) }} as date)
        as as_of_date
from event_times
