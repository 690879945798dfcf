-- One row per subscription cancellation webhook (order.subscription_cancelled).
{%- set paths = ['type', 'id', 'remaining_rebills', 'billing_period_end'] %}

with cancellations as {{ computed_once_cte() }} (

    select
        *,
        {{ json_texts('subscription_json', paths) }} as subscription_fields
    from {{ ref('stg_thrivecart__webhook_events') }}
    where event_family = 'cancellation'

)

select
    delivery_id,
    received_at,
    segment_day,
    account,
    event,
    is_test,
    event_id,
    webhook_id,
    order_id,
    subscription_id,
    event_at as cancelled_at,
    lower({{ null_if_missing(json_list_item('subscription_fields', paths, 'type')) }})
        as item_type,
    {{ null_if_missing(json_list_item('subscription_fields', paths, 'id')) }} as item_id,
    {{ null_if_missing(json_list_item('subscription_fields', paths, 'remaining_rebills')) }}
        as remaining_rebills,
    {{ null_if_missing(json_list_item('subscription_fields', paths, 'billing_period_end')) }}
        as billing_period_end,
    currency,
    thrivecart_customer_id,
    email

from cancellations
