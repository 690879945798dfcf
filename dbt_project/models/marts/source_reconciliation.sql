-- What each source saw, per (local date, payment type, currency): payments only in an export,
-- only in the webhook feed, or in both. A run of webhook-only days means an export is out of
-- date; a run of csv-only days after the webhook setup means the feed has a gap.
with payments as (

    select
        *,
        case when source = 'csv' then 1 else 0 end as is_csv_only,
        case when source = 'webhook' then 1 else 0 end as is_webhook_only,
        case when source = 'csv+webhook' then 1 else 0 end as is_matched
    from {{ ref('fct_payments') }}

)

select
    paid_date as date,
    payment_type,
    currency,
    cast(sum(is_csv_only) as integer) as csv_only_count,
    cast(sum(is_csv_only * amount) as decimal(18, 2)) as csv_only_amount,
    cast(sum(is_webhook_only) as integer) as webhook_only_count,
    cast(sum(is_webhook_only * amount) as decimal(18, 2)) as webhook_only_amount,
    cast(sum(is_matched) as integer) as matched_count,
    cast(sum(is_matched * amount) as decimal(18, 2)) as matched_amount,
    cast(sum(case when matched_by = 'transaction_id' then 1 else 0 end) as integer)
        as matched_by_transaction_id,
    cast(sum(case when matched_by = 'event_id' then 1 else 0 end) as integer)
        as matched_by_event_id,
    cast(sum(case when matched_by = 'webhook_id' then 1 else 0 end) as integer)
        as matched_by_webhook_id,
    cast(sum(case when matched_by = 'natural_key' then 1 else 0 end) as integer)
        as matched_by_natural_key,
    cast(sum(case when matched_by = 'refund_item' then 1 else 0 end) as integer)
        as matched_by_refund_item

from payments
group by paid_date, payment_type, currency
