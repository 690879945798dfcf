-- Shown in Dagster as an asset check on marts/fct_payments (it reads several marts).
{{ config(meta={'dagster': {'ref': {'name': 'fct_payments'}}}) }}

-- No payment id appears twice in fct_payments, and no source row (an export row or a webhook
-- delivery's item) stands behind two payments. Fails with the offending ids.
with payment_ids as (

    select 'payment_id' as kind, payment_id as id, count(*) as times
    from {{ ref('fct_payments') }}
    group by payment_id
    having count(*) > 1

),

csv_rows as (

    select 'csv_movement_id', csv_movement_id, count(*)
    from {{ ref('int_payments_deduplicated') }}
    where csv_movement_id is not null
    group by csv_movement_id
    having count(*) > 1

),

webhook_items as (

    select 'webhook_movement_id', webhook_movement_id, count(*)
    from {{ ref('int_payments_deduplicated') }}
    where webhook_movement_id is not null
    group by webhook_movement_id
    having count(*) > 1

)

select * from payment_ids
union all
select * from csv_rows
union all
select * from webhook_items
