-- Shown in Dagster as an asset check on marts/mrr_monthly (it reads several marts).
{{ config(meta={'dagster': {'ref': {'name': 'mrr_monthly'}}}) }}

-- MRR movements explain every change (docs/marts.md, "Subscription economics"): per account,
-- currency and month, the opening is the month before's closing, the movements lead from
-- opening to closing, for MRR and for subscribers, and churn splits into its two reasons.
-- Every new subscriber of mrr_monthly is in one start month of subscription_retention_cohorts,
-- which also counts those who never reached a month end: per account and currency, the cohorts
-- hold no fewer subscribers. Fails with one row per disagreement.
with months as (

    select
        *,
        lag(closing_mrr) over (partition by account, currency order by month) as previous_mrr,
        lag(closing_subscribers) over (partition by account, currency order by month)
            as previous_subscribers
    from {{ ref('mrr_monthly') }}

),

broken_months as (

    select account, currency, month, 'movements do not add up' as problem
    from months
    where opening_mrr <> coalesce(previous_mrr, 0)
        or opening_subscribers <> coalesce(previous_subscribers, 0)
        or closing_mrr <> opening_mrr + new_mrr + expansion_mrr + reactivation_mrr
            + contraction_mrr + churned_mrr
        or closing_subscribers <> opening_subscribers + new_subscribers
            + reactivated_subscribers - churned_subscribers
        or churned_mrr <> churned_mrr_voluntary + churned_mrr_delinquent
        or churned_subscribers
            <> churned_subscribers_voluntary + churned_subscribers_delinquent
        or new_mrr < 0 or expansion_mrr < 0 or reactivation_mrr < 0
        or contraction_mrr > 0 or churned_mrr_voluntary > 0 or churned_mrr_delinquent > 0

),

cohorts as (

    select account, currency, sum(subscribers) as subscribers
    from {{ ref('subscription_retention_cohorts') }}
    where months_since_start = 0
    group by account, currency

),

new_subscribers as (

    select account, currency, sum(new_subscribers) as subscribers
    from {{ ref('mrr_monthly') }}
    group by account, currency

),

broken_cohorts as (

    select new_subscribers.account, new_subscribers.currency, cast(null as date) as month,
        'the cohorts hold fewer subscribers than mrr_monthly has new ones' as problem
    from new_subscribers
    left join cohorts
        on new_subscribers.account = cohorts.account
        and new_subscribers.currency = cohorts.currency
    where coalesce(cohorts.subscribers, 0) < new_subscribers.subscribers

)

select * from broken_months
union all
select * from broken_cohorts
