-- One row per refund webhook (order.refund): the refunded item, the amount (positive here)
-- and the time the refund happened.
with refunds as (

    select * from {{ ref('stg_thrivecart__webhook_events') }}
    where event_family = 'refund'

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
    event_at as refunded_at,
    {{ null_if_missing(json_text('payload', 'date_unix')) }} as refunded_at_unix,
    ordered_at,
    coalesce(
        upper({{ null_if_missing(json_text('payload', 'refund.currency')) }}), currency
    ) as currency,
    lower({{ null_if_missing(json_text('payload', 'refund.type')) }}) as item_type,
    {{ null_if_missing(json_text('payload', 'refund.id')) }} as item_id,
    -- Unlike order.charges[], this name is not HTML-escaped.
    {{ null_if_missing(json_text('payload', 'refund.name')) }} as item_name,
    coalesce(
        {{ cents_to_amount(json_text('payload', 'refund.amount_gross')) }},
        {{ cents_to_amount(json_text('payload', 'refund.amount')) }}
    ) as amount,
    {{ cents_to_amount(json_text('payload', 'refund.tax_paid')) }} as tax_amount,
    {{ null_if_missing(json_text('payload', 'pro-rata')) }} as pro_rata,
    nullif({{ null_if_missing(json_text('payload', 'transaction_id')) }}, 'false')
        as processor_charge_id,
    thrivecart_customer_id,
    email,
    first_name,
    last_name,
    country,
    lower(coalesce(
        {{ null_if_missing(json_text('payload', 'refund.processor')) }}, processor
    )) as processor

from refunds
