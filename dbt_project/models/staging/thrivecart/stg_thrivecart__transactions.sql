-- One row per row of every Transactions export, cleaned and typed. Repeats across overlapping
-- exports are kept here; int_csv_payments_deduplicated removes them.
{%- set item_ref = export_item_ref() %}
{%- set ordered_at_local = export_local_time() %}
{%- set event_raw = "lower(" ~ null_if_missing('event') ~ ")" %}

with source as (

    select * from {{ source('thrivecart', 'thrivecart_transactions') }}

),

final as (

    select
        _file_sha256 || ':' || cast(_row_number as {{ dbt.type_string() }}) as transaction_row_id,
        _file_sha256 as file_sha256,
        _file_path as file_path,
        _row_number as file_row_number,
        {{ null_if_missing('order_id') }} as order_id,
        {{ null_if_missing('transaction_id') }} as transaction_id,
        {{ event_raw }} as event_raw,
        -- The export's event vocabulary is only partly known: map the spellings seen or
        -- inferred, and keep anything else as 'unknown' (counted by a warning test and in
        -- mart_metadata).
        case
            when {{ event_raw }} in ('charge', 'purchase', 'sale', 'upsellaccept', 'downsellaccept')
                then 'charge'
            when {{ event_raw }} in ('rebill', 'subscription_payment', 'recurring') then 'rebill'
            when {{ event_raw }} in ('refund', 'refunded') then 'refund'
            when {{ event_raw }} in ('cancel', 'cancelled', 'canceled', 'subscription_cancelled')
                then 'cancel'
            when {{ event_raw }} in ('failed', 'rebill_failed', 'payment_failed') then 'failed'
            else 'unknown'
        end as event_type,
        {{ dbt.split_part(item_ref, "'-'", 1) }} as item_type,
        coalesce(
            {{ null_if_missing('relevant_item_id') }},
            nullif({{ dbt.split_part(item_ref, "'-'", 2) }}, '')
        ) as item_id,
        {{ html_unescape(null_if_missing('relevant_item_name')) }} as item_name,
        {{ html_unescape(null_if_missing('relevant_item_pricing_option')) }} as pricing_option,
        {{ ordered_at_local }} as ordered_at_local,
        {{ convert_timezone(ordered_at_local, var('csv_timezone'), 'UTC') }} as ordered_at,
        upper({{ null_if_missing('order_currency') }}) as currency,
        {{ decimal_amount('total') }} as total,
        {{ decimal_amount('product_price') }} as product_price,
        {{ decimal_amount('sales_tax') }} as sales_tax,
        {{ null_if_missing('sales_tax_rate') }} as sales_tax_rate,
        {{ null_if_missing('subscription_id') }} as subscription_id,
        {{ normalize_email('email') }} as email,
        {{ null_if_missing('first_name') }} as first_name,
        {{ null_if_missing('last_name') }} as last_name,
        {{ null_if_missing('full_name') }} as full_name,
        {{ null_if_missing('company') }} as company,
        upper({{ null_if_missing('address_country') }}) as country,
        lower({{ null_if_missing('processor') }}) as processor,
        {{ null_if_missing('coupon') }} as coupon,
        {{ null_if_missing('campaign_id') }} as campaign_id,
        {{ null_if_missing('affiliate_id') }} as affiliate_id,
        {{ null_if_missing('affiliate_name') }} as affiliate_name,
        _extra as extra_columns

    from source

)

select * from final
