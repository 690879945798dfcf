-- One row per row of every Subscriptions export: a subscription's state when exported.
-- These rows describe subscriptions and never add payments.
{%- set item_ref = export_item_ref() %}
{%- set started_at_local = export_local_time() %}

with source as (

    select * from {{ source('thrivecart', 'thrivecart_subscriptions') }}

),

final as (

    select
        _file_sha256 || ':' || cast(_row_number as {{ dbt.type_string() }}) as subscription_row_id,
        _file_sha256 as file_sha256,
        _file_path as file_path,
        _row_number as file_row_number,
        lower({{ null_if_missing('kind') }}) as kind,
        {{ null_if_missing('subscription_id') }} as subscription_id,
        {{ null_if_missing('subscription_id_2') }} as processor_subscription_id,
        lower({{ null_if_missing('subscription_status') }}) as status,
        lower({{ null_if_missing('frequency') }}) as frequency,
        {{ decimal_amount('amount') }} as amount,
        upper({{ null_if_missing('order_currency') }}) as currency,
        {{ started_at_local }} as started_at_local,
        {{ convert_timezone(started_at_local, var('csv_timezone'), 'UTC') }} as started_at,
        {{ dbt.split_part(item_ref, "'-'", 1) }} as item_type,
        coalesce(
            {{ null_if_missing('relevant_item_id') }},
            nullif({{ dbt.split_part(item_ref, "'-'", 2) }}, '')
        ) as item_id,
        {{ html_unescape(null_if_missing('relevant_item_name')) }} as item_name,
        {{ html_unescape(null_if_missing('relevant_item_pricing_option')) }} as pricing_option,
        {{ normalize_email('email') }} as email,
        {{ null_if_missing('first_name') }} as first_name,
        {{ null_if_missing('last_name') }} as last_name,
        upper({{ null_if_missing('address_country') }}) as country,
        lower({{ null_if_missing('processor') }}) as processor,
        {{ null_if_missing('coupon') }} as coupon,
        {{ null_if_missing('campaign_id') }} as campaign_id,
        {{ null_if_missing('affiliate_id') }} as affiliate_id,
        _extra as extra_columns

    from source

)

select * from final
