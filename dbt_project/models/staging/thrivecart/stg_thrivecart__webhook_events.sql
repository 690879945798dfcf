{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_units('segment_day', 'webhook')) }}",
) }}
-- One row per webhook delivery, with the fields every event shares and, as JSON text, the
-- blocks the per-family models (order items, rebills, refunds, cancellations, failed rebills)
-- read. A payload is ~2 KB: it is parsed once here for all fields, never once per field, and
-- once per delivery: a table, not a view, to which an incremental build adds only the webhook
-- days loaded since the last build (macros/incremental.sql). The payload itself stays in raw.
-- depends_on: {{ ref('int_build_units') }}
{%- set paths = [
    'order_id', 'order.id', 'invoice_id', 'event_id', 'webhook_id', 'subscription_id',
    'currency', 'date', 'date_unix', 'order_date', 'order.date', 'customer_id', 'customer.id',
    'customer.email', 'customer.first_name', 'customer.last_name', 'customer.address.country',
    'order.processor', 'order.total', 'order.charges', 'order.future_charges', 'transactions',
    'subscription_ids', 'subscriptions', 'subscription', 'refund', 'recurring_payment_idx',
    'base_payment_plan', 'transaction_id', 'pro-rata', 'passthrough'
] %}
{#- The checkout's URL parameters ThriveCart passes back (`passthrough[utm_source]=…`). -#}
{%- set tracked_keys = [
    'utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term', 'fbclid', 'gclid'
] %}
{%- for key in tracked_keys %}{% do paths.append('passthrough.' ~ key) %}{% endfor %}
{%- set event = 'lower(event)' %}

with source as (

    select * from {{ source('thrivecart', 'thrivecart_webhook_events') }}
    where {{ in_changed_units('_segment_day', 'webhook') }}

),

extracted as {{ computed_once_cte() }} (

    select
        *,
        {{ json_texts('payload', paths) }} as fields
    from source

),

final as (

    select
        delivery_id,
        received_at,
        -- The webhook day (log segment) the delivery was loaded from: incremental builds
        -- find what is new by it.
        _segment_day as segment_day,
        lower(account) as account,
        {{ event }} as event,
        -- The account webhook says 'order.success'; the Event Subscription API 'order_created'.
        case
            when {{ event }} in ('order.success', 'order_created', 'order_success') then 'order'
            when {{ event }} in (
                'order.subscription_payment', 'order_rebill', 'order_subscription_payment'
            ) then 'rebill'
            when {{ event }} in ('order.refund', 'order_refund', 'order_refund_product')
                then 'refund'
            when {{ event }} in (
                'order.subscription_cancelled', 'order_subscription_cancelled', 'order_cancel'
            ) then 'cancellation'
            when {{ event }} in ('order.rebill_failed', 'order_rebill_failed') then 'failed_rebill'
            else 'other'
        end as event_family,
        format,
        known_event,
        -- The sidecar derives mode from mode_int when a payload lacks it.
        coalesce(lower(mode) = 'test', false) as is_test,
        -- Top-level date* is the time of this event (rebill, refund, cancel); an order.success
        -- has only order_date. All text timestamps are UTC.
        cast(coalesce(
            {{ null_if_missing(json_list_item('fields', paths, 'date')) }},
            {{ null_if_missing(json_list_item('fields', paths, 'order_date')) }},
            {{ null_if_missing(json_list_item('fields', paths, 'order.date')) }}
        ) as {{ dbt.type_timestamp() }}) as event_at,
        {{ null_if_missing(json_list_item('fields', paths, 'date_unix')) }} as event_at_unix,
        cast({{ null_if_missing(json_list_item('fields', paths, 'order.date')) }}
            as {{ dbt.type_timestamp() }}) as ordered_at,
        coalesce(
            {{ null_if_missing(json_list_item('fields', paths, 'order_id')) }},
            {{ null_if_missing(json_list_item('fields', paths, 'order.id')) }}
        ) as order_id,
        {{ null_if_missing(json_list_item('fields', paths, 'invoice_id')) }} as invoice_id,
        {{ null_if_missing(json_list_item('fields', paths, 'event_id')) }} as event_id,
        {{ null_if_missing(json_list_item('fields', paths, 'webhook_id')) }} as webhook_id,
        {{ null_if_missing(json_list_item('fields', paths, 'subscription_id')) }}
            as subscription_id,
        upper({{ null_if_missing(json_list_item('fields', paths, 'currency')) }}) as currency,
        coalesce(
            {{ null_if_missing(json_list_item('fields', paths, 'customer_id')) }},
            {{ null_if_missing(json_list_item('fields', paths, 'customer.id')) }}
        ) as thrivecart_customer_id,
        {{ normalize_email(json_list_item('fields', paths, 'customer.email')) }} as email,
        {{ null_if_missing(json_list_item('fields', paths, 'customer.first_name')) }}
            as first_name,
        {{ null_if_missing(json_list_item('fields', paths, 'customer.last_name')) }}
            as last_name,
        upper({{ null_if_missing(json_list_item('fields', paths, 'customer.address.country')) }})
            as country,
        lower({{ null_if_missing(json_list_item('fields', paths, 'order.processor')) }})
            as processor,
        {{ cents_to_amount(json_list_item('fields', paths, 'order.total')) }} as order_total,
        {{ null_if_missing(json_list_item('fields', paths, 'recurring_payment_idx')) }}
            as recurring_payment_idx,
        {{ null_if_missing(json_list_item('fields', paths, 'base_payment_plan')) }}
            as payment_plan_id,
        -- Not in the documented payloads; newer deliveries may name the processor's charge.
        nullif({{ null_if_missing(json_list_item('fields', paths, 'transaction_id')) }}, 'false')
            as processor_charge_id,
        {{ null_if_missing(json_list_item('fields', paths, 'pro-rata')) }} as pro_rata,
        {{ json_list_item('fields', paths, 'order.charges') }} as charges_json,
        {{ json_list_item('fields', paths, 'order.future_charges') }} as future_charges_json,
        {{ json_list_item('fields', paths, 'transactions') }} as transactions_json,
        {{ json_list_item('fields', paths, 'subscription_ids') }} as subscription_ids_json,
        {{ json_list_item('fields', paths, 'subscriptions') }} as subscriptions_json,
        {{ json_list_item('fields', paths, 'subscription') }} as subscription_json,
        {{ json_list_item('fields', paths, 'refund') }} as refund_json,
        -- Every passthrough key, as JSON text; the tracking keys also as columns.
        {{ null_if_missing(json_list_item('fields', paths, 'passthrough')) }} as passthrough_json,
        {% for key in tracked_keys -%}
        {{ null_if_missing(json_list_item('fields', paths, 'passthrough.' ~ key)) }} as {{ key }}
        {{- ',' if not loop.last }}
        {% endfor %}

    from extracted

)

select * from final
