{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_customers('email')) }}",
) }}
-- Identity: one customer per normalised email address, across every source and currency,
-- keeping every ThriveCart customer id seen for that address (ThriveCart issues a new one per
-- checkout in some set-ups) and the most recently known name and country.
-- Incremental: the customers a build recomputes are replaced (macros/incremental.sql).
with live_payments as (

    select * from {{ ref('int_payments_deduplicated') }}
    where not is_test and email is not null and {{ in_changed_customers('email') }}

),

live_customer_ids as (

    select distinct email, thrivecart_customer_id
    from {{ ref('int_customer_ids_collected') }}
    where {{ in_changed_customers('email') }}

),

customer_ids as (

    select
        email,
        {{ sorted_array_agg('thrivecart_customer_id') }} as thrivecart_customer_ids
    from live_customer_ids
    group by email

),

latest_known as (

    -- Per email, the latest payment with a first name and, apart, the latest with a country
    -- (ties by payment_id), in one pass: no window sorting every payment twice. A null
    -- paid_at sorts last.
    {%- set newest_first = 'coalesce(-' ~ epoch_microseconds('paid_at')
        ~ ', 9223372036854775807)' %}
    {{ first_in_group('live_payments', ['email'], [
        (
            ['first_name', 'last_name'],
            ['case when first_name is null then 1 else 0 end', newest_first, 'payment_id'],
        ),
        (
            ['country'],
            ['case when country is null then 1 else 0 end', newest_first, 'payment_id'],
        ),
    ]) }}

)

select
    latest_known.email,
    {{ dbt.hash('latest_known.email') }} as customer_id,
    latest_known.first_name,
    latest_known.last_name,
    latest_known.country,
    customer_ids.thrivecart_customer_ids

from latest_known
left join customer_ids
    on latest_known.email = customer_ids.email
