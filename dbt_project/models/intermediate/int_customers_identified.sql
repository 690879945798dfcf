-- Identity: one customer per normalised email address, across every source and currency,
-- keeping every ThriveCart customer id seen for that address (ThriveCart issues a new one per
-- checkout in some set-ups) and the most recently known name and country.
with live_payments as (

    select * from {{ ref('int_payments_deduplicated') }}
    where not is_test and email is not null

),

live_customer_ids as (

    select distinct email, thrivecart_customer_id
    from {{ ref('int_customer_ids_collected') }}

),

customer_ids as (

    select
        email,
        array_agg(thrivecart_customer_id order by thrivecart_customer_id)
            as thrivecart_customer_ids
    from live_customer_ids
    group by email

),

names_ranked as (

    select
        email,
        first_name,
        last_name,
        row_number() over (
            partition by email
            order by case when first_name is null then 1 else 0 end, paid_at desc, payment_id
        ) as recency
    from live_payments

),

countries_ranked as (

    select
        email,
        country,
        row_number() over (
            partition by email
            order by case when country is null then 1 else 0 end, paid_at desc, payment_id
        ) as recency
    from live_payments

)

select
    names_ranked.email,
    {{ dbt.hash('names_ranked.email') }} as customer_id,
    names_ranked.first_name,
    names_ranked.last_name,
    countries_ranked.country,
    customer_ids.thrivecart_customer_ids

from names_ranked
inner join countries_ranked
    on names_ranked.email = countries_ranked.email
    and countries_ranked.recency = 1
left join customer_ids
    on names_ranked.email = customer_ids.email
where names_ranked.recency = 1
