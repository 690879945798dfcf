-- Dedupe rule 1: one row per webhook money movement. ThriveCart redelivers the same event
-- (same payload, so the same delivery_id) and can send one event twice with small differences
-- (so only the natural key agrees); the first delivery received wins.
with webhook_movements as (

    select * from {{ ref('int_money_movements_unioned') }}
    where source = 'webhook'

),

ranked as (

    select
        *,
        row_number() over (
            partition by natural_key order by received_at, delivery_id
        ) as delivery_rank,
        count(*) over (partition by natural_key) as deliveries_seen
    from webhook_movements

)

select
    movement_id,
    natural_key,
    deliveries_seen,
    payment_type,
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
    paid_at,
    processor_charge_id,
    event_id,
    webhook_id,
    invoice_id,
    email,
    first_name,
    last_name,
    country,
    thrivecart_customer_id,
    processor,
    received_at,
    delivery_id

from ranked
where delivery_rank = 1
