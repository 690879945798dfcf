-- MRR and its movements per account, currency and month (docs/marts.md, "Subscription
-- economics"): each subscriber's MRR at the end of the month against the end of the month
-- before, classified as new, reactivation, expansion, contraction or churn.
with subscription_months as (

    -- Every month from the (account, currency)'s first started subscription to as_of's.
    select starts.account, starts.currency, spine.month
    from (
        select
            account,
            currency,
            cast({{ dbt.date_trunc('month', 'min(start_date)') }} as date) as first_month
        from {{ ref('int_subscription_lifecycles') }}
        where has_mrr
        group by account, currency
    ) as starts
    inner join {{ month_spine(
        "(select cast(" ~ dbt.date_trunc('month', 'min(start_date)') ~ " as date) from "
            ~ ref('int_subscription_lifecycles') ~ " where has_mrr)",
        "(select as_of_month from as_of)"
    ) }} as spine
        on spine.month >= starts.first_month

),

totals as (

    select
        account,
        currency,
        month,
        sum(opening_mrr) as opening_mrr,
        sum(case when movement = 'new' then closing_mrr else 0 end) as new_mrr,
        sum(case when movement = 'expansion' then closing_mrr - opening_mrr else 0 end)
            as expansion_mrr,
        sum(case when movement = 'reactivation' then closing_mrr else 0 end)
            as reactivation_mrr,
        sum(case when movement = 'contraction' then closing_mrr - opening_mrr else 0 end)
            as contraction_mrr,
        -sum(case when movement = 'churned' then opening_mrr else 0 end) as churned_mrr,
        -sum(case when movement = 'churned' then churned_delinquent_mrr else 0 end)
            as churned_mrr_delinquent,
        sum(closing_mrr) as closing_mrr,
        sum(case when opening_mrr > 0 then 1 else 0 end) as opening_subscribers,
        sum(case when movement = 'new' then 1 else 0 end) as new_subscribers,
        sum(case when movement = 'reactivation' then 1 else 0 end) as reactivated_subscribers,
        sum(case when movement = 'expansion' then 1 else 0 end) as expanded_subscribers,
        sum(case when movement = 'contraction' then 1 else 0 end) as contracted_subscribers,
        sum(case when movement = 'churned' then 1 else 0 end) as churned_subscribers,
        sum(case when churn_reason = 'voluntary' then 1 else 0 end)
            as churned_subscribers_voluntary,
        sum(case when churn_reason = 'delinquent' then 1 else 0 end)
            as churned_subscribers_delinquent,
        sum(case when closing_mrr > 0 then 1 else 0 end) as closing_subscribers
    from movements
    group by account, currency, month

)

{%- set money = ['opening_mrr', 'new_mrr', 'expansion_mrr', 'reactivation_mrr',
    'contraction_mrr', 'churned_mrr'] %}
{%- set counts = ['opening_subscribers', 'new_subscribers', 'reactivated_subscribers',
    'expanded_subscribers', 'contracted_subscribers', 'churned_subscribers',
    'churned_subscribers_voluntary', 'churned_subscribers_delinquent', 'closing_subscribers'] %}

select
    months.account,
    months.currency,
    months.month,
    {%- for column in money %}
    cast(coalesce(totals.{{ column }}, 0) as decimal(18, 2)) as {{ column }},
    {%- endfor %}
    cast(coalesce(totals.churned_mrr - totals.churned_mrr_delinquent, 0) as decimal(18, 2))
        as churned_mrr_voluntary,
    cast(coalesce(totals.churned_mrr_delinquent, 0) as decimal(18, 2))
        as churned_mrr_delinquent,
    cast(coalesce(totals.closing_mrr, 0) as decimal(18, 2)) as closing_mrr,
    {%- for column in counts %}
    cast(coalesce(totals.{{ column }}, 0) as integer) as {{ column }},
    {%- endfor %}
    {{ dbt.last_day('months.month', 'month') }} < as_of.as_of_date as is_month_complete
from months
cross join as_of
left join totals
    on months.account = totals.account
    and months.currency = totals.currency
    and months.month = totals.month
