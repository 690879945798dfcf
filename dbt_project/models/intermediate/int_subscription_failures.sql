-- One row per failed rebill: an invoice of a live subscription that failed at least once.
-- ThriveCart repeats order.rebill_failed per processor retry under the same invoice, and a
-- delivery may come twice, so the invoice is the unit and its first failure dates it. It is
-- recovered by the first rebill of the subscription collected after that first failure, if
-- that came within `delinquency_days` (docs/marts.md, "Subscription economics").
{%- set delinquency_days = var('delinquency_days') | int %}

with subscription_items as (

    {{ subscription_items() }}

),

failures as (

    select
        coalesce(failed.subscription_id, subscription_items.subscription_id)
            as subscription_id,
        -- Without an invoice id, each day's failures are one invoice.
        coalesce(failed.invoice_id, cast(cast(failed.failed_at as date) as {{ dbt.type_string() }}))
            as invoice_id,
        failed.account,
        failed.currency,
        failed.failed_at,
        failed.amount
    from {{ ref('stg_thrivecart__webhook_failed_rebills') }} as failed
    left join subscription_items
        on failed.order_id = subscription_items.order_id
        and failed.item_type = subscription_items.item_type
        and failed.item_id = subscription_items.product_id
    where not failed.is_test

),

invoices as (

    select
        subscription_id,
        invoice_id,
        max(account) as account,
        max(currency) as currency,
        min(failed_at) as first_failed_at,
        max(amount) as amount
    from failures
    where subscription_id is not null
    group by subscription_id, invoice_id

),

rebills_after as (

    select
        invoices.subscription_id,
        invoices.invoice_id,
        rebills.paid_at as recovered_at,
        rebills.amount as recovered_amount,
        row_number() over (
            partition by invoices.subscription_id, invoices.invoice_id
            order by rebills.paid_at, rebills.payment_id
        ) as rebill_rank
    from invoices
    inner join {{ ref('fct_payments') }} as rebills
        on invoices.subscription_id = rebills.subscription_id
        and rebills.payment_type = 'rebill'
        and rebills.paid_at > invoices.first_failed_at

),

recoveries as (

    select * from rebills_after where rebill_rank = 1

)

select
    invoices.subscription_id,
    invoices.invoice_id,
    invoices.account,
    invoices.currency,
    invoices.first_failed_at,
    cast({{ convert_timezone('invoices.first_failed_at', 'UTC', var('ltv_timezone')) }} as date)
        as first_failed_date,
    invoices.amount,
    recoveries.recovered_at,
    recoveries.recovered_amount,
    case
        when recoveries.recovered_at <= {{ dbt.dateadd(
            'day', delinquency_days, 'invoices.first_failed_at') }}
            then 'recovered'
        when {{ dbt.dateadd('day', delinquency_days, 'invoices.first_failed_at') }}
            <= as_of.as_of
            then 'not_recovered'
        else 'pending'
    end as recovery_status
from invoices
left join recoveries
    on invoices.subscription_id = recoveries.subscription_id
    and invoices.invoice_id = recoveries.invoice_id
cross join {{ ref('int_as_of_computed') }} as as_of
