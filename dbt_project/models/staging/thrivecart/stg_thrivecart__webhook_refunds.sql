-- One row per refund webhook (order.refund): the refunded item, the amount (positive here)
-- and the time the refund happened.
{%- set paths = [
    'type', 'id', 'name', 'currency', 'amount', 'amount_gross', 'tax_paid', 'processor'
] %}

with refunds as {{ computed_once_cte() }} (

    select
        *,
        {{ json_texts('refund_json', paths) }} as refund_fields
    from {{ ref('stg_thrivecart__webhook_events') }}
    where event_family = 'refund'

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
    event_at as refunded_at,
    event_at_unix as refunded_at_unix,
    ordered_at,
    coalesce(
        upper({{ null_if_missing(json_list_item('refund_fields', paths, 'currency')) }}),
        currency
    ) as currency,
    lower({{ null_if_missing(json_list_item('refund_fields', paths, 'type')) }}) as item_type,
    {{ null_if_missing(json_list_item('refund_fields', paths, 'id')) }} as item_id,
    -- Unlike order.charges[], this name is not HTML-escaped.
    {{ null_if_missing(json_list_item('refund_fields', paths, 'name')) }} as item_name,
    {{ gross_cents_amount('refund_fields', paths) }} as amount,
    {{ cents_to_amount(json_list_item('refund_fields', paths, 'tax_paid')) }} as tax_amount,
    pro_rata,
    processor_charge_id,
    thrivecart_customer_id,
    email,
    first_name,
    last_name,
    country,
    lower(coalesce(
        {{ null_if_missing(json_list_item('refund_fields', paths, 'processor')) }}, processor
    )) as processor

from refunds
