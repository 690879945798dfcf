-- One row per ThriveCart subscription, merged from every source. Exports describe a
-- subscription as it was when exported (kind from the folder, status, frequency, recurring
-- amount); webhooks and payments say what happened since: payments collected, the last
-- payment, the cancellation. Only live data counts: a test-mode order's subscription stays in
-- staging (its ids may even repeat a live one's).
-- Incremental: the subscriptions a build recomputes are replaced (macros/incremental.sql);
-- each is recomputed from all of its rows.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_subscriptions('subscription_id')) }}",
) }}
with export_files as (

    -- A renamed file falls back to the latest subscription start it lists, in the whole file.
    select file_sha256, max(started_at) as export_latest_start
    from {{ ref('stg_thrivecart__subscriptions') }}
    group by file_sha256

),

export_rows as (

    select
        subscriptions.*,
        -- 'ThriveCart Subscription Export 2024-05-01 10_00_00.csv' -> its export time.
        {{ export_stamp('subscriptions.file_path') }} as export_stamp,
        export_files.export_latest_start
    from {{ ref('stg_thrivecart__subscriptions') }} as subscriptions
    inner join export_files
        on subscriptions.file_sha256 = export_files.file_sha256
    where subscriptions.subscription_id is not null
        and {{ in_changed_subscriptions('subscriptions.subscription_id') }}

),

exports_ranked as (

    select
        *,
        row_number() over (
            partition by subscription_id
            order by
                case when export_stamp is null then 1 else 0 end,
                export_stamp desc nulls last,
                export_latest_start desc nulls last,
                file_sha256 desc nulls last
        ) as export_rank,
        -- The folder says recurring or limited; a file dropped elsewhere says unknown.
        max(case when kind in ('recurring', 'limited') then kind end)
            over (partition by subscription_id) as known_kind
    from export_rows

),

latest_exports as (

    select * from exports_ranked where export_rank = 1

),

order_items as (

    select
        subscription_id,
        min(ordered_at) as started_at,
        max(order_id) as order_id,
        max(item_type) as item_type,
        max(item_id) as item_id,
        max(item_name) as item_name,
        max(email) as email,
        max(currency) as currency,
        max(processor_subscription_id) as processor_subscription_id,
        max(future_frequency) as frequency,
        max(future_amount) as amount
    from {{ ref('stg_thrivecart__webhook_order_items') }}
    where subscription_id is not null and not is_test
        and {{ in_changed_subscriptions('subscription_id') }}
    group by subscription_id

),

payments as (

    select * from {{ ref('int_payments_deduplicated') }}
    where subscription_id is not null and not is_test
        and {{ in_changed_subscriptions('subscription_id') }}

),

payment_totals as (

    select
        subscription_id,
        max(order_id) as order_id,
        max(item_type) as item_type,
        max(item_id) as item_id,
        max(item_name) as item_name,
        max(email) as email,
        max(currency) as currency,
        max(processor_subscription_id) as processor_subscription_id,
        min(paid_at) as first_payment_at,
        sum(case when payment_type in ('charge', 'rebill') then 1 else 0 end)
            as payments_collected,
        sum(case when payment_type in ('charge', 'rebill') then amount else 0 end)
            as collected_amount,
        -sum(case when payment_type = 'refund' then amount else 0 end) as refunded_amount,
        max(case when payment_type in ('charge', 'rebill') then paid_at end) as last_payment_at
    from payments
    group by subscription_id

),

subscription_items as (

    -- Rebill and cancellation webhooks name the order item, not always the subscription.
    select distinct order_id, item_type, item_id, subscription_id
    from payments

),

rebills_ranked as (

    select
        subscription_items.subscription_id,
        rebills.frequency,
        rebills.amount,
        rebills.remaining_rebills,
        row_number() over (
            partition by subscription_items.subscription_id
            order by rebills.rebilled_at desc nulls last, rebills.delivery_id
        ) as recency
    from {{ ref('stg_thrivecart__webhook_rebills') }} as rebills
    inner join subscription_items
        on rebills.order_id = subscription_items.order_id
        and rebills.item_type = subscription_items.item_type
        and rebills.item_id = subscription_items.item_id
    where not rebills.is_test

),

latest_rebills as (

    select * from rebills_ranked where recency = 1

),

cancellations as (

    select
        coalesce(cancellations.subscription_id, subscription_items.subscription_id)
            as subscription_id,
        cancellations.cancelled_at,
        cancellations.email,
        cancellations.item_type,
        cancellations.item_id,
        cancellations.currency
    from {{ ref('stg_thrivecart__webhook_cancellations') }} as cancellations
    left join subscription_items
        on cancellations.order_id = subscription_items.order_id
        and cancellations.item_type = subscription_items.item_type
        and cancellations.item_id = subscription_items.item_id
    where not cancellations.is_test

    union all

    -- An export's cancel row is the fallback when no cancellation webhook is known.
    select
        coalesce(csv_cancels.subscription_id, subscription_items.subscription_id),
        csv_cancels.ordered_at,
        csv_cancels.email,
        csv_cancels.item_type,
        csv_cancels.item_id,
        csv_cancels.currency
    from {{ ref('stg_thrivecart__transactions') }} as csv_cancels
    left join subscription_items
        on csv_cancels.order_id = subscription_items.order_id
        and csv_cancels.item_type = subscription_items.item_type
        and csv_cancels.item_id = subscription_items.item_id
    where csv_cancels.event_type = 'cancel'

),

cancelled as (

    -- A subscription older than every other source is known from its cancellation alone.
    select
        subscription_id,
        min(cancelled_at) as cancelled_at,
        max(email) as email,
        max(item_type) as item_type,
        max(item_id) as item_id,
        max(currency) as currency
    from cancellations
    where subscription_id is not null and {{ in_changed_subscriptions('subscription_id') }}
    group by subscription_id

),

all_subscriptions as (

    select subscription_id from latest_exports
    union
    select subscription_id from order_items
    union
    select subscription_id from payment_totals
    union
    select subscription_id from cancelled

),

merged as (

    select
        all_subscriptions.subscription_id,
        coalesce(order_items.order_id, payment_totals.order_id) as order_id,
        coalesce(order_items.email, payment_totals.email, latest_exports.email, cancelled.email)
            as email,
        coalesce(
            order_items.item_type,
            payment_totals.item_type,
            latest_exports.item_type,
            cancelled.item_type
        ) as item_type,
        coalesce(
            order_items.item_id, payment_totals.item_id, latest_exports.item_id, cancelled.item_id
        ) as product_id,
        coalesce(latest_exports.item_name, order_items.item_name, payment_totals.item_name)
            as product_name,
        coalesce(
            latest_exports.known_kind,
            case
                when latest_rebills.remaining_rebills is not null then 'limited'
                when latest_rebills.subscription_id is not null then 'recurring'
            end
        ) as kind,
        latest_exports.status as exported_status,
        coalesce(
            order_items.started_at, payment_totals.first_payment_at, latest_exports.started_at
        ) as started_at,
        coalesce(latest_exports.frequency, latest_rebills.frequency, order_items.frequency)
            as frequency,
        coalesce(latest_exports.amount, latest_rebills.amount, order_items.amount) as amount,
        coalesce(
            latest_exports.currency,
            order_items.currency,
            payment_totals.currency,
            cancelled.currency
        ) as currency,
        coalesce(payment_totals.payments_collected, 0) as payments_collected,
        coalesce(payment_totals.collected_amount, 0) as collected_amount,
        coalesce(payment_totals.refunded_amount, 0) as refunded_amount,
        payment_totals.last_payment_at,
        cancelled.cancelled_at,
        latest_rebills.remaining_rebills,
        coalesce(
            latest_exports.processor_subscription_id,
            order_items.processor_subscription_id,
            payment_totals.processor_subscription_id
        ) as processor_subscription_id
    from all_subscriptions
    left join latest_exports
        on all_subscriptions.subscription_id = latest_exports.subscription_id
    left join order_items
        on all_subscriptions.subscription_id = order_items.subscription_id
    left join payment_totals
        on all_subscriptions.subscription_id = payment_totals.subscription_id
    left join latest_rebills
        on all_subscriptions.subscription_id = latest_rebills.subscription_id
    left join cancelled
        on all_subscriptions.subscription_id = cancelled.subscription_id

)

select
    subscription_id,
    {{ dbt.hash('email') }} as customer_id,
    email,
    order_id,
    item_type,
    product_id,
    product_name,
    kind,
    -- A cancellation newer than what the export knew wins; a finished limited plan is
    -- completed; without an export, a subscription is active until cancelled.
    case
        when cancelled_at is not null
            and coalesce(exported_status, 'active') in ('active', 'paused', 'behind on payments')
            then 'cancelled'
        when exported_status is not null then exported_status
        when remaining_rebills = '0' then 'completed'
        else 'active'
    end as status,
    started_at,
    frequency,
    amount,
    currency,
    payments_collected,
    collected_amount,
    refunded_amount,
    last_payment_at,
    cancelled_at,
    processor_subscription_id
from merged
