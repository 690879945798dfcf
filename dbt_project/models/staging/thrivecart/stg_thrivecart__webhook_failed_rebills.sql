-- One row per failed rebill webhook (order.rebill_failed). ThriveCart repeats it per processor
-- retry with the same invoice; none of these is a payment.
{%- set paths = ['type', 'id', 'amount', 'amount_gross'] %}

with failed_rebills as {{ computed_once_cte() }} (

    select
        *,
        {{ json_texts('subscription_json', paths) }} as subscription_fields
    from {{ ref('stg_thrivecart__webhook_events') }}
    where event_family = 'failed_rebill'

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
    invoice_id,
    subscription_id,
    event_at as failed_at,
    lower({{ null_if_missing(json_list_item('subscription_fields', paths, 'type')) }})
        as item_type,
    {{ null_if_missing(json_list_item('subscription_fields', paths, 'id')) }} as item_id,
    {{ gross_cents_amount('subscription_fields', paths) }} as amount,
    currency,
    thrivecart_customer_id,
    email

from failed_rebills
