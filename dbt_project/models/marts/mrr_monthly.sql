-- MRR and its movements per account, currency and month (docs/marts.md, "Subscription
-- economics"): each subscriber's MRR at the end of the month against the end of the month
-- before, classified as new, reactivation, expansion, contraction or churn.
with subscription_months as (

    select * from {{ ref('int_subscription_mrr_months') }}

),

subscriber_months as (

    select account, currency, customer_id, month, sum(mrr) as mrr
    from subscription_months
    group by account, currency, customer_id, month

),

first_months as (

    select account, currency, customer_id, min(month) as first_month
    from subscriber_months
    group by account, currency, customer_id

),

as_of as (

    select
        cast({{ dbt.date_trunc('month', 'as_of_date') }} as date) as as_of_month,
        as_of_date
    from {{ ref('int_as_of_computed') }}

),

compared as (

    -- Every month a subscriber has MRR, and the month after it: (previous, current) MRR.
    select account, currency, customer_id, month from subscriber_months
    union
    select
        subscriber_months.account,
        subscriber_months.currency,
        subscriber_months.customer_id,
        cast({{ dbt.dateadd('month', 1, 'subscriber_months.month') }} as date)
    from subscriber_months
    cross join as_of
    where subscriber_months.month < as_of.as_of_month

),

churn_reasons as (

    -- How the subscriptions a subscriber had at the previous month end ended, for those
    -- churned in `month`: by MRR, and by the last one to end (voluntary on a tie).
    select
        subscription_months.account,
        subscription_months.currency,
        subscription_months.customer_id,
        cast({{ dbt.dateadd('month', 1, 'subscription_months.month') }} as date) as month,
        sum(case when end_reason = 'delinquent' then mrr else 0 end) as delinquent_mrr,
        max(case when end_reason = 'delinquent' then ended_at end) as last_delinquent_end,
        max(case when end_reason = 'voluntary' then ended_at end) as last_voluntary_end
    from subscription_months
    group by 1, 2, 3, 4

),

movements as (

    select
        compared.account,
        compared.currency,
        compared.month,
        coalesce(previous.mrr, 0) as opening_mrr,
        coalesce(current_month.mrr, 0) as closing_mrr,
        case
            when previous.mrr is null and compared.month = first_months.first_month
                then 'new'
            when previous.mrr is null then 'reactivation'
            when current_month.mrr is null then 'churned'
            when current_month.mrr > previous.mrr then 'expansion'
            when current_month.mrr < previous.mrr then 'contraction'
        end as movement,
        case
            when current_month.mrr is null
                and churn_reasons.last_delinquent_end is not null
                and (
                    churn_reasons.last_voluntary_end is null
                    or churn_reasons.last_delinquent_end > churn_reasons.last_voluntary_end
                )
                then 'delinquent'
            when current_month.mrr is null then 'voluntary'
        end as churn_reason,
        case when current_month.mrr is null then churn_reasons.delinquent_mrr end
            as churned_delinquent_mrr
    from compared
    inner join first_months
        on compared.account = first_months.account
        and compared.currency = first_months.currency
        and compared.customer_id = first_months.customer_id
    left join subscriber_months as current_month
        on compared.account = current_month.account
        and compared.currency = current_month.currency
        and compared.customer_id = current_month.customer_id
        and compared.month = current_month.month
    left join subscriber_months as previous
        on compared.account = previous.account
        and compared.currency = previous.currency
        and compared.customer_id = previous.customer_id
        and compared.month = {{ dbt.dateadd('month', 1, 'previous.month') }}
    left join churn_reasons
        on compared.account = churn_reasons.account
        and compared.currency = churn_reasons.currency
        and compared.customer_id = churn_reasons.customer_id
        and compared.month = churn_reasons.month

),

starts as (

    select
        account,
        currency,
        cast({{ dbt.date_trunc('month', 'min(start_date)') }} as date) as first_month
    from {{ ref('int_subscription_lifecycles') }}
    where has_mrr
    group by account, currency

),

months as (

    -- Every month from the (account, currency)'s first started subscription to as_of's.
    select starts.account, starts.currency, spine.month
    from starts
    inner join {{ month_spine(
        "(select min(first_month) from starts)", "(select as_of_month from as_of)"
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
