{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_orders('order_id')) }}",
) }}
-- The payment rules index (models/docs.md, doc block `payment_rules`) lists every rule,
-- where it lives and the test that pins it.
-- One row per real payment, every dedupe rule applied, ready for the marts (which drop the
-- test-mode rows flagged here).
-- Dedupe rule 4: a subscription's first payment is the order's charge. A rebill of the same
-- order item, currency and amount dated within a minute of that charge is the same first
-- payment seen twice (no real rebill follows its order that fast) and is dropped.
-- Rule 5 is already in place: a refund matched to its webhook carries the webhook's refund
-- time, and one known only from an export keeps the order's date with is_dated_by_order.
-- Incremental: every rule here stays within an order, so a build replaces the orders it
-- recomputes (macros/incremental.sql) and keeps the others.
with matched_payments as (

    select * from {{ ref('int_payments_matched') }}
    where {{ in_changed_orders('order_id') }}

),

first_charges as (

    select order_id, item_type, item_id, currency, amount, paid_at
    from matched_payments
    where payment_type = 'charge'

),

first_payment_rebills as (

    select distinct rebills.payment_key
    from matched_payments as rebills
    inner join first_charges
        on rebills.order_id = first_charges.order_id
        and rebills.item_type = first_charges.item_type
        and rebills.item_id = first_charges.item_id
        and rebills.currency = first_charges.currency
        and rebills.amount = first_charges.amount
    where rebills.payment_type = 'rebill'
        and abs({{ dbt.datediff('rebills.paid_at', 'first_charges.paid_at', 'second') }}) <= 60

),

payments as (

    select *
    from matched_payments
    where payment_key not in (select payment_key from first_payment_rebills)

),

item_subscriptions as (

    -- A rebill or refund may not name its subscription; the order's charge of the same item
    -- (webhook subscription_ids, or the export's subscription_id column) does.
    select
        order_id,
        item_type,
        item_id,
        max(subscription_id) as subscription_id,
        max(processor_subscription_id) as processor_subscription_id
    from payments
    group by order_id, item_type, item_id

),

export_orders as (

    -- Only exports know the traffic source; every row of an order carries it.
    select
        order_id,
        max(campaign_id) as campaign_id,
        max(affiliate_id) as affiliate_id
    from {{ ref('int_csv_payments_deduplicated') }}
    where {{ in_changed_orders('order_id') }}
    group by order_id

),

order_facts as (

    -- Both order-level lookups in one relation, so the million payments are joined once for
    -- them (DuckDB otherwise built a hash table of the wide payments for one of the joins).
    select
        coalesce(export_orders.order_id, webhook_orders.order_id) as order_id,
        export_orders.campaign_id,
        export_orders.affiliate_id,
        webhook_orders.account,
        webhook_orders.is_test_only
    from export_orders
    full outer join (
        select * from {{ ref('int_webhook_orders_classified') }}
        where {{ in_changed_orders('order_id') }}
    ) as webhook_orders
        on export_orders.order_id = webhook_orders.order_id

),

live_accounts as (

    -- With one ThriveCart account, an export row of an order no webhook saw is that account's
    -- (decided once per build, in int_build_scope: another sole account rebuilds everything).
    select sole_account from {{ ref('int_build_scope') }}

)

select
    {{ dbt.hash('payments.payment_key') }} as payment_id,
    payments.payment_key,
    payments.source,
    payments.matched_by,
    payments.payment_type,
    payments.is_test or coalesce(order_facts.is_test_only, false) as is_test,
    coalesce(payments.account, order_facts.account, live_accounts.sole_account) as account,
    {{ dbt.hash('payments.email') }} as customer_id,
    payments.email,
    payments.order_id,
    payments.item_type,
    payments.item_id,
    payments.item_name,
    coalesce(payments.subscription_id, item_subscriptions.subscription_id) as subscription_id,
    coalesce(
        payments.processor_subscription_id, item_subscriptions.processor_subscription_id
    ) as processor_subscription_id,
    payments.amount,
    payments.tax_amount,
    payments.currency,
    payments.paid_at,
    cast({{ convert_timezone('payments.paid_at', 'UTC', var('ltv_timezone')) }} as date)
        as paid_date,
    payments.is_dated_by_order,
    payments.processor_charge_id,
    payments.invoice_id,
    payments.first_name,
    payments.last_name,
    payments.country,
    payments.thrivecart_customer_id,
    coalesce(payments.campaign_id, order_facts.campaign_id) as campaign_id,
    coalesce(payments.affiliate_id, order_facts.affiliate_id) as affiliate_id,
    payments.coupon,
    payments.processor,
    payments.csv_movement_id,
    payments.webhook_movement_id,
    payments.csv_amount,
    payments.webhook_amount,
    payments.csv_paid_at,
    payments.webhook_paid_at

from payments
left join item_subscriptions
    on payments.order_id = item_subscriptions.order_id
    and payments.item_type = item_subscriptions.item_type
    and payments.item_id = item_subscriptions.item_id
left join order_facts
    on payments.order_id = order_facts.order_id
left join live_accounts
    on 1 = 1
