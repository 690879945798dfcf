-- One row per webhook delivery, with the fields every event family shares. The per-family
-- models (order items, rebills, refunds, cancellations, failed rebills) read this one.
with source as (

    select * from {{ source('thrivecart', 'thrivecart_webhook_events') }}

),

cleaned as (

    select
        delivery_id,
        received_at,
        lower(account) as account,
        lower(event) as event,
        lower(mode) as mode,
        format,
        known_event,
        payload,
        {{ null_if_missing(json_text('payload', 'mode_int')) }} as mode_int,
        coalesce(
            {{ null_if_missing(json_text('payload', 'order_id')) }},
            {{ null_if_missing(json_text('payload', 'order.id')) }}
        ) as order_id,
        {{ null_if_missing(json_text('payload', 'invoice_id')) }} as invoice_id,
        {{ null_if_missing(json_text('payload', 'event_id')) }} as event_id,
        {{ null_if_missing(json_text('payload', 'webhook_id')) }} as webhook_id,
        {{ null_if_missing(json_text('payload', 'subscription_id')) }} as subscription_id,
        upper({{ null_if_missing(json_text('payload', 'currency')) }}) as currency,
        -- Top-level date* is the time of this event (rebill, refund, cancel); an order.success
        -- has only order_date. All text timestamps are UTC.
        cast(coalesce(
            {{ null_if_missing(json_text('payload', 'date')) }},
            {{ null_if_missing(json_text('payload', 'order_date')) }},
            {{ null_if_missing(json_text('payload', 'order.date')) }}
        ) as {{ dbt.type_timestamp() }}) as event_at,
        cast({{ null_if_missing(json_text('payload', 'order.date')) }} as {{ dbt.type_timestamp() }})
            as ordered_at,
        coalesce(
            {{ null_if_missing(json_text('payload', 'customer_id')) }},
            {{ null_if_missing(json_text('payload', 'customer.id')) }}
        ) as thrivecart_customer_id,
        {{ normalize_email(json_text('payload', 'customer.email')) }} as email,
        {{ null_if_missing(json_text('payload', 'customer.first_name')) }} as first_name,
        {{ null_if_missing(json_text('payload', 'customer.last_name')) }} as last_name,
        upper({{ null_if_missing(json_text('payload', 'customer.address.country')) }}) as country,
        lower({{ null_if_missing(json_text('payload', 'order.processor')) }}) as processor

    from source

)

select
    delivery_id,
    received_at,
    account,
    event,
    -- The account webhook says 'order.success'; the Event Subscription API 'order_created'.
    case
        when event in ('order.success', 'order_created', 'order_success') then 'order'
        when event in ('order.subscription_payment', 'order_rebill', 'order_subscription_payment')
            then 'rebill'
        when event in ('order.refund', 'order_refund', 'order_refund_product') then 'refund'
        when event in (
            'order.subscription_cancelled', 'order_subscription_cancelled', 'order_cancel'
        ) then 'cancellation'
        when event in ('order.rebill_failed', 'order_rebill_failed') then 'failed_rebill'
        else 'other'
    end as event_family,
    format,
    known_event,
    coalesce(mode = 'test', mode_int = '1', false) as is_test,
    event_at,
    ordered_at,
    order_id,
    invoice_id,
    event_id,
    webhook_id,
    subscription_id,
    currency,
    thrivecart_customer_id,
    email,
    first_name,
    last_name,
    country,
    processor,
    payload

from cleaned
