-- One row per subscription cancellation webhook (order.subscription_cancelled).
with cancellations as (

    select * from {{ ref('stg_thrivecart__webhook_events') }}
    where event_family = 'cancellation'

)

select
    delivery_id,
    received_at,
    account,
    event,
    is_test,
    event_id,
    webhook_id,
    order_id,
    subscription_id,
    event_at as cancelled_at,
    lower({{ null_if_missing(json_text('payload', 'subscription.type')) }}) as item_type,
    {{ null_if_missing(json_text('payload', 'subscription.id')) }} as item_id,
    {{ null_if_missing(json_text('payload', 'subscription.remaining_rebills')) }}
        as remaining_rebills,
    {{ null_if_missing(json_text('payload', 'subscription.billing_period_end')) }}
        as billing_period_end,
    thrivecart_customer_id,
    email

from cancellations
