-- One row per failed rebill webhook (order.rebill_failed). ThriveCart repeats it per processor
-- retry with the same invoice; none of these is a payment.
with failed_rebills as (

    select * from {{ ref('stg_thrivecart__webhook_events') }}
    where event_family = 'failed_rebill'

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
    invoice_id,
    subscription_id,
    event_at as failed_at,
    lower({{ null_if_missing(json_text('payload', 'subscription.type')) }}) as item_type,
    {{ null_if_missing(json_text('payload', 'subscription.id')) }} as item_id,
    coalesce(
        {{ cents_to_amount(json_text('payload', 'subscription.amount_gross')) }},
        {{ cents_to_amount(json_text('payload', 'subscription.amount')) }}
    ) as amount,
    currency,
    thrivecart_customer_id,
    email

from failed_rebills
