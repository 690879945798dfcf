-- Logo and net MRR retention by the month subscribers started (docs/marts.md, "Subscription
-- economics"): the subscribers who started in a month, followed at every month end since.
with subscriptions as (

    select
        *,
        cast({{ dbt.date_trunc('month', 'start_date') }} as date) as start_month
    from {{ ref('int_subscription_lifecycles') }}
    where has_mrr

),

subscribers as (

    select
        account,
        currency,
        customer_id,
        min(start_month) as start_month
    from subscriptions
    group by account, currency, customer_id

),

starting as (

    -- What they started with: the first MRR of the subscriptions of their start month.
    select
        subscribers.account,
        subscribers.currency,
        subscribers.start_month,
        count(distinct subscribers.customer_id) as subscribers,
        sum({{ monthly_amount('subscriptions.first_amount', 'subscriptions.frequency') }})
            as starting_mrr
    from subscribers
    inner join subscriptions
        on subscribers.account = subscriptions.account
        and subscribers.currency = subscriptions.currency
        and subscribers.customer_id = subscriptions.customer_id
        and subscribers.start_month = subscriptions.start_month
    group by subscribers.account, subscribers.currency, subscribers.start_month

),

retained as (

    select
        subscribers.account,
        subscribers.currency,
        subscribers.start_month,
        cast({{ dbt.datediff('subscribers.start_month', 'months.month', 'month') }} as integer)
            as months_since_start,
        count(distinct subscribers.customer_id) as retained_subscribers,
        sum(months.mrr) as retained_mrr
    from subscribers
    inner join {{ ref('int_subscription_mrr_months') }} as months
        on subscribers.account = months.account
        and subscribers.currency = months.currency
        and subscribers.customer_id = months.customer_id
    group by 1, 2, 3, 4

),

as_of as (

    select
        cast({{ dbt.date_trunc('month', 'as_of_date') }} as date) as as_of_month,
        as_of_date
    from {{ ref('int_as_of_computed') }}

),

cells as (

    select
        starting.*,
        cast({{ dbt.datediff('starting.start_month', 'spine.month', 'month') }} as integer)
            as months_since_start,
        as_of.as_of_date,
        spine.month
    from starting
    cross join as_of
    inner join {{ month_spine(
        "(select min(start_month) from subscribers)", "(select as_of_month from as_of)"
    ) }} as spine
        on spine.month >= starting.start_month

)

select
    cells.account,
    cells.currency,
    cells.start_month,
    cells.months_since_start,
    cast(cells.subscribers as integer) as subscribers,
    cast(cells.starting_mrr as decimal(18, 2)) as starting_mrr,
    cast(coalesce(retained.retained_subscribers, 0) as integer) as retained_subscribers,
    cast(coalesce(retained.retained_mrr, 0) as decimal(18, 2)) as retained_mrr,
    {{ rounded_quotient('coalesce(retained.retained_subscribers, 0)', 'cells.subscribers', 4) }}
        as logo_retention,
    {{ rounded_quotient(
        'coalesce(retained.retained_mrr, 0) * 100', 'cast(cells.starting_mrr * 100 as bigint)', 4
    ) }}
        as net_mrr_retention,
    {{ dbt.last_day('cells.month', 'month') }} < cells.as_of_date as is_month_complete
from cells
left join retained
    on cells.account = retained.account
    and cells.currency = retained.currency
    and cells.start_month = retained.start_month
    and cells.months_since_start = retained.months_since_start
