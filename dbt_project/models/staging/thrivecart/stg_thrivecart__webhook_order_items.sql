{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_units('segment_day', 'webhook')) }}",
) }}
-- One row per item of an order webhook: order.charges[] exploded (product, bump, upsell,
-- downsell), with the item's processor charge id and subscription ids looked up by its key.
-- Each order's items depend on its delivery alone, so this is a table that an incremental
-- build extends by the webhook days loaded since the last build (macros/incremental.sql).
-- depends_on: {{ ref('int_build_units') }}
{%- set charge_paths = [
    'item_type', 'reference', 'name', 'type', 'amount', 'amount_gross', 'tax_paid',
    'payment_plan_id', 'payment_plan_name'
] %}
{%- set future_paths = ['item_type', 'reference', 'frequency', 'amount', 'amount_gross'] %}

with orders as (

    select * from {{ ref('stg_thrivecart__webhook_events') }}
    where event_family = 'order' and {{ in_changed_units('segment_day', 'webhook') }}

),

charges as {{ computed_once_cte() }} (

    select
        orders.delivery_id,
        charge.element_index as charge_index,
        {{ json_texts('charge.element', charge_paths) }} as fields
    from orders
    cross join {{ json_array_elements('orders.charges_json') }} as charge

),

future_charges as {{ computed_once_cte() }} (

    select
        orders.delivery_id,
        future.element_index as future_index,
        {{ json_texts('future.element', future_paths) }} as fields
    from orders
    cross join {{ json_array_elements('orders.future_charges_json') }} as future

),

items as (

    select
        delivery_id,
        charge_index,
        lower({{ null_if_missing(json_list_item('fields', charge_paths, 'item_type')) }})
            as item_type,
        {{ null_if_missing(json_list_item('fields', charge_paths, 'reference')) }} as item_id,
        {{ html_unescape(null_if_missing(json_list_item('fields', charge_paths, 'name'))) }}
            as item_name,
        lower({{ null_if_missing(json_list_item('fields', charge_paths, 'type')) }})
            as charge_type,
        {{ gross_cents_amount('fields', charge_paths) }} as amount,
        {{ cents_to_amount(json_list_item('fields', charge_paths, 'tax_paid')) }} as tax_amount,
        {{ null_if_missing(json_list_item('fields', charge_paths, 'payment_plan_id')) }}
            as payment_plan_id,
        {{ html_unescape(
            null_if_missing(json_list_item('fields', charge_paths, 'payment_plan_name'))
        ) }} as payment_plan_name
    from charges

),

schedules as (

    -- Scheduled payments are not revenue, but the first one tells a subscription's
    -- frequency and recurring amount before any rebill or export has.
    select
        delivery_id,
        lower({{ null_if_missing(json_list_item('fields', future_paths, 'item_type')) }})
            as item_type,
        {{ null_if_missing(json_list_item('fields', future_paths, 'reference')) }} as item_id,
        lower({{ null_if_missing(json_list_item('fields', future_paths, 'frequency')) }})
            as frequency,
        {{ gross_cents_amount('fields', future_paths) }} as amount,
        row_number() over (
            partition by
                delivery_id,
                {{ json_list_item('fields', future_paths, 'item_type') }},
                {{ json_list_item('fields', future_paths, 'reference') }}
            order by future_index
        ) as schedule_index,
        -- A split-pay item lists every remaining instalment; a subscription its next one.
        count(*) over (
            partition by
                delivery_id,
                {{ json_list_item('fields', future_paths, 'item_type') }},
                {{ json_list_item('fields', future_paths, 'reference') }}
        ) as scheduled_payments
    from future_charges

),

keyed as (

    -- The top-level maps are keyed 'product-12' while charges say item_type + reference.
    select
        items.*,
        items.item_type || '-' || items.item_id as item_key,
        schedules.frequency as future_frequency,
        schedules.amount as future_amount,
        schedules.scheduled_payments as future_payments
    from items
    left join schedules
        on items.delivery_id = schedules.delivery_id
        and items.item_type = schedules.item_type
        and items.item_id = schedules.item_id
        and schedules.schedule_index = 1

)

select
    keyed.delivery_id || ':' || cast(keyed.charge_index as {{ dbt.type_string() }})
        as order_item_id,
    orders.delivery_id,
    orders.received_at,
    orders.segment_day,
    orders.account,
    orders.event,
    orders.is_test,
    orders.event_id,
    orders.webhook_id,
    orders.order_id,
    orders.invoice_id,
    orders.currency,
    orders.event_at as ordered_at,
    keyed.charge_index,
    keyed.item_type,
    keyed.item_id,
    keyed.item_name,
    keyed.charge_type,
    keyed.amount,
    keyed.tax_amount,
    orders.order_total,
    keyed.payment_plan_id,
    keyed.payment_plan_name,
    -- "false" when the item had no charge (a free or deferred item).
    nullif(
        {{ null_if_missing(json_text_at_key('orders.transactions_json', 'keyed.item_key')) }},
        'false'
    ) as processor_charge_id,
    {{ null_if_missing(json_text_at_key('orders.subscription_ids_json', 'keyed.item_key')) }}
        as subscription_id,
    nullif(
        {{ null_if_missing(json_text_at_key('orders.subscriptions_json', 'keyed.item_key')) }},
        'false'
    ) as processor_subscription_id,
    keyed.future_frequency,
    keyed.future_amount,
    cast(keyed.future_payments as integer) as future_payments,
    orders.thrivecart_customer_id,
    orders.email,
    orders.first_name,
    orders.last_name,
    orders.country,
    orders.processor

from keyed
inner join orders
    on keyed.delivery_id = orders.delivery_id
