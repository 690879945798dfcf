{{ config(materialized='view') }}
-- The payment rules index (models/docs.md, doc block `payment_rules`) lists every rule,
-- where it lives and the test that pins it.
-- Every money movement from every source in one shape, before any deduplication: one row per
-- CSV charge/rebill/refund row (every export) and per webhook order item, rebill and refund
-- (every delivery). Amounts are signed: refunds are negative whatever sign the export used.
-- `natural_key` says which rows describe the same movement within one source.
-- A view: each dedupe model reads its own source's part of it once, and writing every row of
-- every overlapping export to disk before deduplicating them cost more than the dedupe.
{#- The columns every webhook movement carries after its natural key, in union order: who paid,
    and which delivery said so; attribution and file lineage are the exports' alone. -#}
{%- set webhook_context %}
        email,
        first_name,
        last_name,
        country,
        thrivecart_customer_id,
        cast(null as {{ dbt.type_string() }}) as campaign_id,
        cast(null as {{ dbt.type_string() }}) as affiliate_id,
        cast(null as {{ dbt.type_string() }}) as coupon,
        processor,
        received_at,
        delivery_id,
        segment_day,
        cast(null as {{ dbt.type_string() }}) as file_sha256,
        cast(null as bigint) as file_row_number
{%- endset %}

with csv_rows as (

    -- Exports disagree on the sign of refunds (one export negative, another positive), so the
    -- sign is settled before anything compares rows across exports.
    select
        *,
        case when event_type = 'refund' then -abs(total) else total end as signed_total,
        case when event_type = 'refund' then -abs(sales_tax) else sales_tax end as signed_tax
    from {{ ref('stg_thrivecart__transactions') }}
    where event_type in ('charge', 'rebill', 'refund')

),

order_items as (

    select
        *,
        -- segment_day first: a filter on the day then reaches the scan below the window.
        sum(amount) over (partition by segment_day, delivery_id) as charges_sum
    from {{ ref('stg_thrivecart__webhook_order_items') }}

),

rebills as (

    select * from {{ ref('stg_thrivecart__webhook_rebills') }}

),

refunds as (

    select * from {{ ref('stg_thrivecart__webhook_refunds') }}

),

csv_movements as (

    select
        'csv:' || transaction_row_id as movement_id,
        'csv' as source,
        event_type as payment_type,
        false as is_test,
        cast(null as {{ dbt.type_string() }}) as account,
        order_id,
        item_type,
        item_id,
        item_name,
        subscription_id,
        cast(null as {{ dbt.type_string() }}) as processor_subscription_id,
        cast(signed_total as decimal(18, 2)) as amount,
        cast(signed_tax as decimal(18, 2)) as tax_amount,
        currency,
        ordered_at as paid_at,
        -- An export dates a refund by its original order, not by when it happened.
        event_type = 'refund' as is_dated_by_order,
        transaction_id as processor_charge_id,
        cast(null as {{ dbt.type_string() }}) as event_id,
        cast(null as {{ dbt.type_string() }}) as webhook_id,
        cast(null as {{ dbt.type_string() }}) as invoice_id,
        -- The same row in several exports has the same content, whatever else changed
        -- (names are edited over time, so they are not part of it).
        'csv|' || coalesce(order_id, '') || '|' || event_type
        || '|' || coalesce(item_type, '') || '|' || coalesce(item_id, '')
        || '|' || coalesce(transaction_id, '')
        || '|' || coalesce(cast(ordered_at_local as {{ dbt.type_string() }}), '')
        || '|' || coalesce(cast(signed_total as {{ dbt.type_string() }}), '')
        || '|' || coalesce(currency, '') as natural_key,
        email,
        first_name,
        last_name,
        country,
        cast(null as {{ dbt.type_string() }}) as thrivecart_customer_id,
        campaign_id,
        affiliate_id,
        coupon,
        processor,
        cast(null as {{ dbt.type_timestamp() }}) as received_at,
        cast(null as {{ dbt.type_string() }}) as delivery_id,
        cast(null as date) as segment_day,
        file_sha256,
        file_row_number

    from csv_rows

),

order_item_movements as (

    select
        'webhook:' || order_item_id as movement_id,
        'webhook' as source,
        'charge' as payment_type,
        is_test,
        account,
        order_id,
        item_type,
        item_id,
        item_name,
        subscription_id,
        processor_subscription_id,
        amount,
        tax_amount,
        currency,
        ordered_at as paid_at,
        false as is_dated_by_order,
        processor_charge_id,
        event_id,
        webhook_id,
        invoice_id,
        coalesce(
            'order|' || account || '|' || order_id || '|' || item_type || '|' || item_id,
            'webhook_id|' || webhook_id || '|' || cast(charge_index as {{ dbt.type_string() }}),
            'delivery|' || order_item_id
        ) as natural_key,
        {{ webhook_context }}

    from order_items
    -- Older payloads also list the recurring plan itself in charges[]: that entry was not
    -- collected, and order.total (what was collected) says so.
    where not (charge_type = 'recurring' and charges_sum > order_total)

),

rebill_movements as (

    select
        'webhook:' || delivery_id as movement_id,
        'webhook' as source,
        'rebill' as payment_type,
        is_test,
        account,
        order_id,
        item_type,
        item_id,
        item_name,
        subscription_id,
        cast(null as {{ dbt.type_string() }}) as processor_subscription_id,
        amount,
        tax_amount,
        currency,
        rebilled_at as paid_at,
        false as is_dated_by_order,
        processor_charge_id,
        event_id,
        webhook_id,
        invoice_id,
        coalesce(
            'rebill|' || account || '|' || order_id || '|' || invoice_id,
            'rebill|' || account || '|' || order_id || '|' || item_type || '|' || item_id
            || '|' || recurring_payment_idx,
            'webhook_id|' || webhook_id,
            'delivery|' || delivery_id
        ) as natural_key,
        {{ webhook_context }}

    from rebills

),

refund_movements as (

    select
        'webhook:' || delivery_id as movement_id,
        'webhook' as source,
        'refund' as payment_type,
        is_test,
        account,
        order_id,
        item_type,
        item_id,
        item_name,
        subscription_id,
        cast(null as {{ dbt.type_string() }}) as processor_subscription_id,
        cast(-abs(amount) as decimal(18, 2)) as amount,
        cast(-abs(tax_amount) as decimal(18, 2)) as tax_amount,
        currency,
        refunded_at as paid_at,
        false as is_dated_by_order,
        processor_charge_id,
        event_id,
        webhook_id,
        invoice_id,
        coalesce(
            'refund_event|' || account || '|' || event_id,
            'refund|' || account || '|' || order_id || '|' || item_type || '|' || item_id
            || '|' || refunded_at_unix,
            'webhook_id|' || webhook_id,
            'delivery|' || delivery_id
        ) as natural_key,
        {{ webhook_context }}

    from refunds

)

select * from csv_movements
union all
select * from order_item_movements
union all
select * from rebill_movements
union all
select * from refund_movements
