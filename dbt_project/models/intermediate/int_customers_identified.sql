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
    -- (ties by payment_id): arg_min over (missing, newest first, payment_id), one pass, where
    -- two row_number() windows sorted every payment twice. A null paid_at sorts last.
    select
        email,
        arg_min(
            struct_pack(first_name, last_name),
            struct_pack(
                missing := case when first_name is null then 1 else 0 end,
                age := coalesce(-epoch_us(paid_at), 9223372036854775807),
                payment_id
            )
        ) as name,
        arg_min(
            country,
            struct_pack(
                missing := case when country is null then 1 else 0 end,
                age := coalesce(-epoch_us(paid_at), 9223372036854775807),
                payment_id
            )
        ) as country
    from live_payments
    group by email

)

select
    latest_known.email,
    {{ dbt.hash('latest_known.email') }} as customer_id,
    latest_known.name.first_name as first_name,
    latest_known.name.last_name as last_name,
    latest_known.country,
    customer_ids.thrivecart_customer_ids

from latest_known
left join customer_ids
    on latest_known.email = customer_ids.email
