-- Split-pay (limited) plans per account, currency, product and start month: how many were
-- completed, cancelled or are still paying, and what is still to be collected (docs/marts.md,
-- "Subscription economics").
with plans as (

    select
        subscription_id,
        account,
        currency,
        coalesce(product_id, '(unknown)') as product_id,
        product_name,
        status,
        started_at,
        end_date,
        cast({{ dbt.date_trunc('month', 'start_date') }} as date) as start_month
    from {{ ref('int_subscription_lifecycles') }}
    where kind = 'limited'

),

collected as (

    -- Instalments collected, and the latest one above zero: what each further one costs.
    select
        payments.subscription_id,
        count(*) as instalments_collected,
        max(case when payments.latest_rank = 1 then payments.amount end) as instalment_amount
    from (
        select
            subscription_id,
            amount,
            row_number() over (
                partition by subscription_id
                order by
                    case when amount > 0 then 0 else 1 end, paid_at desc nulls last,
                    payment_id desc nulls last
            ) as latest_rank
        from {{ ref('fct_payments') }}
        where subscription_id is not null and payment_type in ('charge', 'rebill')
    ) as payments
    group by payments.subscription_id

),

subscription_items as (

    {{ subscription_items() }}

),

rebill_schedules as (

    -- After rebill n (the order's charge is payment 0), remaining_rebills are still due: the
    -- plan has n + 1 + remaining_rebills instalments. The latest rebill says it last.
    select
        coalesce(rebills.subscription_id, subscription_items.subscription_id)
            as subscription_id,
        {{ dbt.safe_cast('rebills.recurring_payment_idx', 'integer') }} + 1
            + {{ dbt.safe_cast('rebills.remaining_rebills', 'integer') }} as planned,
        row_number() over (
            partition by coalesce(rebills.subscription_id, subscription_items.subscription_id)
            order by rebills.rebilled_at desc nulls last, rebills.delivery_id
        ) as recency
    from {{ ref('stg_thrivecart__webhook_rebills') }} as rebills
    left join subscription_items
        on rebills.subscription_id is null
        and rebills.order_id = subscription_items.order_id
        and rebills.item_type = subscription_items.item_type
        and rebills.item_id = subscription_items.product_id
    where not rebills.is_test
        and {{ dbt.safe_cast('rebills.recurring_payment_idx', 'integer') }} is not null
        and {{ dbt.safe_cast('rebills.remaining_rebills', 'integer') }} is not null

),

order_schedules as (

    -- The order lists every instalment after its charge.
    select subscription_id, max(future_payments) + 1 as planned
    from {{ ref('stg_thrivecart__webhook_order_items') }}
    where not is_test and subscription_id is not null and future_payments is not null
    group by subscription_id

),

states as (

    select
        plans.*,
        coalesce(collected.instalments_collected, 0) as instalments_collected,
        collected.instalment_amount,
        coalesce(rebill_schedules.planned, order_schedules.planned) as planned,
        case
            when plans.status = 'completed'
                or collected.instalments_collected
                    >= coalesce(rebill_schedules.planned, order_schedules.planned)
                then 'completed'
            when plans.end_date is not null then 'cancelled'
            else 'active'
        end as state
    from plans
    left join collected
        on plans.subscription_id = collected.subscription_id
    left join rebill_schedules
        on plans.subscription_id = rebill_schedules.subscription_id
        and rebill_schedules.recency = 1
    left join order_schedules
        on plans.subscription_id = order_schedules.subscription_id

),

names as (

    -- A product's name at its latest plan start, on every row of it.
    select account, currency, product_id, product_name
    from (
        select
            account, currency, product_id, product_name,
            row_number() over (
                partition by account, currency, product_id
                order by started_at desc nulls last, subscription_id desc nulls last
            ) as recency
        from plans
    ) as ranked
    where recency = 1

),

tallies as (

    select
        account,
        currency,
        product_id,
        start_month,
        count(*) as plans,
        sum(case when state = 'completed' then 1 else 0 end) as completed,
        sum(case when state = 'cancelled' then 1 else 0 end) as cancelled,
        sum(case when state = 'active' then 1 else 0 end) as active,
        sum(instalments_collected) as instalments_collected,
        -- A plan of unknown schedule owes nothing we can count (plans_with_unknown_schedule).
        sum(
            case when state = 'active' and planned is not null
                then planned - instalments_collected else 0 end
        ) as instalments_outstanding,
        sum(
            case when state = 'active' and planned is not null
                then (planned - instalments_collected) * instalment_amount else 0 end
        ) as outstanding_amount,
        sum(case when state = 'active' and planned is null then 1 else 0 end)
            as plans_with_unknown_schedule
    from states
    group by account, currency, product_id, start_month

)

select
    tallies.account,
    tallies.currency,
    tallies.product_id,
    names.product_name,
    tallies.start_month,
    cast(tallies.plans as integer) as plans,
    cast(tallies.completed as integer) as completed,
    cast(tallies.cancelled as integer) as cancelled,
    cast(tallies.active as integer) as active,
    {{ rounded_quotient('tallies.completed', 'tallies.completed + tallies.cancelled', 4) }}
        as completion_rate,
    cast(tallies.instalments_collected as integer) as instalments_collected,
    cast(tallies.instalments_outstanding as integer) as instalments_outstanding,
    cast(tallies.outstanding_amount as decimal(18, 2)) as outstanding_amount,
    cast(tallies.plans_with_unknown_schedule as integer) as plans_with_unknown_schedule
from tallies
inner join names
    on tallies.account = names.account
    and tallies.currency = names.currency
    and tallies.product_id = names.product_id
