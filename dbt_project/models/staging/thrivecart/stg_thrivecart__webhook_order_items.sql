-- One row per item of an order webhook: order.charges[] exploded (product, bump, upsell,
-- downsell), with the item's processor charge id and subscription ids looked up by its key.
with orders as (

    select * from {{ ref('stg_thrivecart__webhook_events') }}
    where event_family = 'order'

),

charges as (

    select
        orders.delivery_id,
        orders.received_at,
        orders.account,
        orders.event,
        orders.is_test,
        orders.event_id,
        orders.webhook_id,
        orders.order_id,
        orders.invoice_id,
        orders.currency,
        orders.event_at as ordered_at,
        orders.thrivecart_customer_id,
        orders.email,
        orders.first_name,
        orders.last_name,
        orders.country,
        orders.processor,
        {{ cents_to_amount(json_text('orders.payload', 'order.total')) }} as order_total,
        charge.element_index as charge_index,
        lower({{ null_if_missing(json_text('charge.element', 'item_type')) }}) as item_type,
        {{ null_if_missing(json_text('charge.element', 'reference')) }} as item_id,
        {{ html_unescape(null_if_missing(json_text('charge.element', 'name'))) }} as item_name,
        lower({{ null_if_missing(json_text('charge.element', 'type')) }}) as charge_type,
        coalesce(
            {{ cents_to_amount(json_text('charge.element', 'amount_gross')) }},
            {{ cents_to_amount(json_text('charge.element', 'amount')) }}
        ) as amount,
        {{ cents_to_amount(json_text('charge.element', 'tax_paid')) }} as tax_amount,
        {{ null_if_missing(json_text('charge.element', 'payment_plan_id')) }} as payment_plan_id,
        {{ html_unescape(null_if_missing(json_text('charge.element', 'payment_plan_name'))) }}
            as payment_plan_name,
        orders.payload

    from orders
    cross join {{ json_array_elements('orders.payload', 'order.charges') }} as charge

),

future_charges as (

    -- Scheduled payments are not revenue, but the first one tells a subscription's
    -- frequency and recurring amount before any rebill or export has.
    select
        orders.delivery_id,
        lower({{ null_if_missing(json_text('future.element', 'item_type')) }}) as item_type,
        {{ null_if_missing(json_text('future.element', 'reference')) }} as item_id,
        lower({{ null_if_missing(json_text('future.element', 'frequency')) }}) as frequency,
        coalesce(
            {{ cents_to_amount(json_text('future.element', 'amount_gross')) }},
            {{ cents_to_amount(json_text('future.element', 'amount')) }}
        ) as amount,
        row_number() over (
            partition by
                orders.delivery_id,
                {{ json_text('future.element', 'item_type') }},
                {{ json_text('future.element', 'reference') }}
            order by future.element_index
        ) as future_index
    from orders
    cross join {{ json_array_elements('orders.payload', 'order.future_charges') }} as future

),

keyed as (

    -- The top-level maps are keyed 'product-12' while charges say item_type + reference.
    select
        charges.*,
        charges.item_type || '-' || charges.item_id as item_key,
        future_charges.frequency as future_frequency,
        future_charges.amount as future_amount
    from charges
    left join future_charges
        on charges.delivery_id = future_charges.delivery_id
        and charges.item_type = future_charges.item_type
        and charges.item_id = future_charges.item_id
        and future_charges.future_index = 1

)

select
    delivery_id || ':' || cast(charge_index as varchar) as order_item_id,
    delivery_id,
    received_at,
    account,
    event,
    is_test,
    event_id,
    webhook_id,
    order_id,
    invoice_id,
    currency,
    ordered_at,
    charge_index,
    item_type,
    item_id,
    item_name,
    charge_type,
    amount,
    tax_amount,
    order_total,
    payment_plan_id,
    payment_plan_name,
    -- "false" when the item had no charge (a free or deferred item).
    nullif(
        {{ null_if_missing(json_text_at_key('payload', 'transactions', 'item_key')) }}, 'false'
    ) as processor_charge_id,
    {{ null_if_missing(json_text_at_key('payload', 'subscription_ids', 'item_key')) }}
        as subscription_id,
    nullif(
        {{ null_if_missing(json_text_at_key('payload', 'subscriptions', 'item_key')) }}, 'false'
    ) as processor_subscription_id,
    future_frequency,
    future_amount,
    thrivecart_customer_id,
    email,
    first_name,
    last_name,
    country,
    processor

from keyed
