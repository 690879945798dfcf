-- One row per rebill webhook (order.subscription_payment): one collected subscription payment.
{%- set paths = [
    'type', 'id', 'name', 'currency', 'amount', 'amount_gross', 'tax_paid', 'frequency',
    'remaining_rebills', 'processor'
] %}

with rebills as {{ computed_once_cte() }} (

    select
        *,
        {{ json_texts('subscription_json', paths) }} as subscription_fields
    from {{ ref('stg_thrivecart__webhook_events') }}
    where event_family = 'rebill'

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
    -- '<base>-<n>': an opaque per-charge key, never parsed.
    invoice_id,
    recurring_payment_idx,
    event_at as rebilled_at,
    ordered_at,
    coalesce(
        upper({{ null_if_missing(json_list_item('subscription_fields', paths, 'currency')) }}),
        currency
    ) as currency,
    lower({{ null_if_missing(json_list_item('subscription_fields', paths, 'type')) }})
        as item_type,
    {{ null_if_missing(json_list_item('subscription_fields', paths, 'id')) }} as item_id,
    -- Unlike order.charges[], this name is not HTML-escaped.
    {{ null_if_missing(json_list_item('subscription_fields', paths, 'name')) }} as item_name,
    {{ gross_cents_amount('subscription_fields', paths) }} as amount,
    {{ cents_to_amount(json_list_item('subscription_fields', paths, 'tax_paid')) }}
        as tax_amount,
    lower({{ null_if_missing(json_list_item('subscription_fields', paths, 'frequency')) }})
        as frequency,
    -- "null" means unlimited (a recurring subscription); a number means a limited plan.
    {{ null_if_missing(json_list_item('subscription_fields', paths, 'remaining_rebills')) }}
        as remaining_rebills,
    payment_plan_id,
    subscription_id,
    processor_charge_id,
    thrivecart_customer_id,
    email,
    first_name,
    last_name,
    country,
    lower(coalesce(
        {{ null_if_missing(json_list_item('subscription_fields', paths, 'processor')) }},
        processor
    )) as processor

from rebills
