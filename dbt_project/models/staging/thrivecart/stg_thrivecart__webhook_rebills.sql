-- One row per rebill webhook (order.subscription_payment): one collected subscription payment.
with rebills as (

    select * from {{ ref('stg_thrivecart__webhook_events') }}
    where event_family = 'rebill'

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
    -- '<base>-<n>': an opaque per-charge key, never parsed.
    invoice_id,
    {{ null_if_missing(json_text('payload', 'recurring_payment_idx')) }} as recurring_payment_idx,
    event_at as rebilled_at,
    ordered_at,
    coalesce(
        upper({{ null_if_missing(json_text('payload', 'subscription.currency')) }}), currency
    ) as currency,
    lower({{ null_if_missing(json_text('payload', 'subscription.type')) }}) as item_type,
    {{ null_if_missing(json_text('payload', 'subscription.id')) }} as item_id,
    -- Unlike order.charges[], this name is not HTML-escaped.
    {{ null_if_missing(json_text('payload', 'subscription.name')) }} as item_name,
    coalesce(
        {{ cents_to_amount(json_text('payload', 'subscription.amount_gross')) }},
        {{ cents_to_amount(json_text('payload', 'subscription.amount')) }}
    ) as amount,
    {{ cents_to_amount(json_text('payload', 'subscription.tax_paid')) }} as tax_amount,
    lower({{ null_if_missing(json_text('payload', 'subscription.frequency')) }}) as frequency,
    -- "null" means unlimited (a recurring subscription); a number means a limited plan.
    {{ null_if_missing(json_text('payload', 'subscription.remaining_rebills')) }}
        as remaining_rebills,
    {{ null_if_missing(json_text('payload', 'base_payment_plan')) }} as payment_plan_id,
    subscription_id,
    -- Not in the documented payload; newer deliveries may name the processor's charge.
    nullif({{ null_if_missing(json_text('payload', 'transaction_id')) }}, 'false')
        as processor_charge_id,
    thrivecart_customer_id,
    email,
    first_name,
    last_name,
    country,
    lower(coalesce(
        {{ null_if_missing(json_text('payload', 'subscription.processor')) }}, processor
    )) as processor

from rebills
