-- Failed rebills and how many were collected in time, per account, currency, kind of plan and
-- month of the first failure (docs/marts.md, "Subscription economics").
with failures as (

    select
        failures.*,
        coalesce(subscriptions.kind, '(unknown)') as kind,
        cast({{ dbt.date_trunc('month', 'failures.first_failed_date') }} as date)
            as failure_month
    from {{ ref('int_subscription_failures') }} as failures
    left join {{ ref('dim_subscriptions') }} as subscriptions
        on failures.subscription_id = subscriptions.subscription_id

),

tallies as (

    select
        coalesce(account, '(unknown)') as account,
        currency,
        kind,
        failure_month,
        count(*) as failed_rebills,
        sum(case when recovery_status = 'recovered' then 1 else 0 end) as recovered,
        sum(case when recovery_status = 'not_recovered' then 1 else 0 end) as not_recovered,
        sum(case when recovery_status = 'pending' then 1 else 0 end) as pending,
        sum(case when recovery_status = 'recovered' then recovered_amount else 0 end)
            as recovered_amount
    from failures
    group by 1, 2, 3, 4

)

select
    account,
    currency,
    kind,
    failure_month,
    cast(failed_rebills as integer) as failed_rebills,
    cast(recovered as integer) as recovered,
    cast(not_recovered as integer) as not_recovered,
    cast(pending as integer) as pending,
    {{ rounded_quotient('recovered', 'recovered + not_recovered', 4) }} as recovery_rate,
    cast(recovered_amount as decimal(18, 2)) as recovered_amount
from tallies
