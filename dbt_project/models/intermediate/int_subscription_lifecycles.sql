-- One row per live subscription (recurring or split pay) with a payment above zero: when it
-- started, its latest payment, and when and how it ended (docs/marts.md, "Subscription
-- economics"). It ends at its cancellation, or `delinquency_days` after its first failed
-- rebill since its last payment when nothing was collected since: dunning may end it without
-- a cancellation reaching us. With such a failure at or before its end, it ended delinquent.
{%- set delinquency_days = var('delinquency_days') | int %}

with payments as (

    select *
    from {{ ref('fct_payments') }}
    where subscription_id is not null and payment_type in ('charge', 'rebill')

),

paid as (

    select
        subscription_id,
        max(paid_at) as last_payment_at
    from payments
    group by subscription_id

),

first_paid as (

    select
        subscription_id,
        paid_at,
        amount,
        coalesce(account, '(unknown)') as account,
        customer_id,
        currency,
        row_number() over (partition by subscription_id order by paid_at, payment_id) as rank
    from payments
    where amount > 0

),

started as (

    select
        paid.subscription_id,
        first_paid.paid_at as started_at,
        first_paid.amount as first_amount,
        paid.last_payment_at,
        first_paid.account,
        first_paid.customer_id,
        first_paid.currency
    from paid
    inner join first_paid
        on paid.subscription_id = first_paid.subscription_id
        and first_paid.rank = 1

),

unrecovered as (

    -- The first failure after the last payment: nothing was collected since.
    select
        started.subscription_id,
        min(failures.first_failed_at) as failed_at
    from started
    inner join {{ ref('int_subscription_failures') }} as failures
        on started.subscription_id = failures.subscription_id
        and failures.first_failed_at > started.last_payment_at
    group by started.subscription_id

),

ends as (

    select
        started.*,
        subscriptions.kind,
        subscriptions.frequency,
        subscriptions.status,
        subscriptions.product_id,
        subscriptions.product_name,
        -- A cancellation dated before a payment it stopped cannot be: an export may date
        -- its cancel row by the order. It ended after that payment; the payment dates it.
        case
            when subscriptions.cancelled_at < started.last_payment_at
                then started.last_payment_at
            else subscriptions.cancelled_at
        end as cancelled_at,
        unrecovered.failed_at,
        {{ dbt.dateadd('day', delinquency_days, 'unrecovered.failed_at') }} as lapsed_at
    from started
    inner join {{ ref('dim_subscriptions') }} as subscriptions
        on started.subscription_id = subscriptions.subscription_id
    left join unrecovered
        on started.subscription_id = unrecovered.subscription_id

),

ended as (

    select
        ends.*,
        case
            when lapsed_at > as_of.as_of then cancelled_at
            when cancelled_at is null or lapsed_at < cancelled_at then lapsed_at
            else cancelled_at
        end as ended_at
    from ends
    cross join {{ ref('int_as_of_computed') }} as as_of

)

select
    subscription_id,
    account,
    customer_id,
    currency,
    kind,
    frequency,
    -- Recurring with a frequency MRR can be normalised from: in the MRR marts.
    coalesce(kind = 'recurring' and {{ monthly_amount('0', 'frequency') }} is not null, false)
        as has_mrr,
    status,
    product_id,
    product_name,
    started_at,
    first_amount,
    cast({{ convert_timezone('started_at', 'UTC', var('ltv_timezone')) }} as date)
        as start_date,
    last_payment_at,
    ended_at,
    cast({{ convert_timezone('ended_at', 'UTC', var('ltv_timezone')) }} as date) as end_date,
    case
        when ended_at is null then null
        when failed_at <= ended_at then 'delinquent'
        else 'voluntary'
    end as end_reason
from ended
