-- CAC and payback: one row per (account, currency, acquisition month, channel, campaign), where
-- the channel is the acquiring order's utm_source and the campaign its utm_campaign, plus the
-- channel's total (campaign '*') and every channel's (channel and campaign '*'). Spend comes
-- from landing/ad_spend/ (docs/costs.md) and meets the customers of its own currency.
{%- set days = [30, 90, 365] %}
{%- set key = ['account', 'currency', 'cohort_month', 'channel', 'campaign'] %}
with as_of as (

    select as_of_date from {{ ref('int_as_of_computed') }}

),

customers as (

    select
        dim.customer_id,
        dim.currency,
        dim.cohort_month,
        dim.first_paid_date,
        orders.account,
        lower(coalesce(dim.acquisition_utm_source, '(not tracked)')) as channel,
        lower(coalesce(dim.acquisition_utm_campaign, '(not tracked)')) as campaign
    from {{ ref('dim_customers') }} as dim
    inner join {{ ref('int_customer_orders_ranked') }} as orders
        on dim.customer_id = orders.customer_id
        and dim.currency = orders.currency
        and orders.order_number = 1

),

customer_values as (

    -- Each customer's revenue and margin to date and within each day N of acquisition.
    select
        customers.customer_id,
        customers.currency,
        sum(payments.amount) as net_revenue,
        sum(payments.margin) as net_margin
        {%- for n in days %}
        {%- for measure, value in [('net_revenue', 'amount'), ('net_margin', 'margin')] %},
        sum(case
            when payments.paid_date
                <= cast({{ dbt.dateadd('day', n, 'customers.first_paid_date') }} as date)
                then payments.{{ value }}
            else 0
        end) as {{ measure }}_{{ n }}
        {%- endfor %}
        {%- endfor %}
    from customers
    inner join {{ ref('fct_payments') }} as payments
        on customers.customer_id = payments.customer_id
        and customers.currency = payments.currency
    group by customers.customer_id, customers.currency

),

customer_stats as (

    -- Per campaign, per channel (campaign '*') and per account and month (both '*'): one
    -- grouping set each, in one pass over the customers.
    select
        {{ cac_group_columns() }},
        count(*) as new_customers,
        max(customers.first_paid_date) as last_acquired_date,
        sum(customer_values.net_revenue) as net_revenue,
        sum(customer_values.net_margin) as net_margin
        {%- for n in days %},
        sum(customer_values.net_revenue_{{ n }}) as net_revenue_{{ n }},
        sum(customer_values.net_margin_{{ n }}) as net_margin_{{ n }}
        {%- endfor %}
    from customers
    left join customer_values
        on customers.customer_id = customer_values.customer_id
        and customers.currency = customer_values.currency
    group by {{ cac_grouping_sets() }}

),

sole_account as (

    {% if var('ltv_account', '') -%}
    -- One account's pipeline (LTV_ACCOUNTS): its spend files are that account's.
    select '{{ var("ltv_account") }}' as account
    {%- else -%}
    -- Spend without an account belongs to the seller's only account; with several accounts
    -- it cannot be placed (mart_metadata counts it).
    select max(account) as account
    from customers
    having count(distinct account) = 1
    {%- endif %}

),

spend as (

    select
        coalesce(nullif(spend.account, ''), sole_account.account) as account,
        spend.currency,
        cast({{ dbt.date_trunc('month', 'spend.spend_date') }} as date) as cohort_month,
        spend.channel,
        coalesce(nullif(lower(spend.campaign), ''), '(none)') as campaign,
        spend.spend
    from {{ ref('stg_inputs__ad_spend') }} as spend
    left join sole_account
        on 1 = 1

),

spend_groups as (

    select account, currency, cohort_month, channel, campaign, sum(spend) as spend
    from spend
    where account is not null
    group by account, currency, cohort_month, channel, campaign
    union all
    select account, currency, cohort_month, channel, '*', sum(spend)
    from spend
    where account is not null
    group by account, currency, cohort_month, channel
    union all
    select account, currency, cohort_month, '*', '*', sum(spend)
    from spend
    where account is not null
    group by account, currency, cohort_month

),

monthly_margin as (

    select
        {{ cac_group_columns() }},
        greatest(
            {{ dbt.datediff('customers.cohort_month', 'payments.paid_date', 'month') }}, 0
        ) as months_since_acquisition,
        sum(payments.margin) as margin
    from customers
    inner join {{ ref('fct_payments') }} as payments
        on customers.customer_id = payments.customer_id
        and customers.currency = payments.currency
    group by {{ cac_grouping_sets(
        'greatest(' ~ dbt.datediff('customers.cohort_month', 'payments.paid_date', 'month')
        ~ ', 0)'
    ) }}

),

payback as (

    -- The first month since acquisition by whose end the cohort's cumulative margin reaches
    -- its spend, i.e. the margin per customer reaches the CAC.
    select
        {% for column in key %}cumulative.{{ column }}, {% endfor %}
        min(cumulative.months_since_acquisition) as payback_months
    from (
        select
            *,
            sum(margin) over (
                partition by {{ key | join(', ') }}
                order by months_since_acquisition
                rows between unbounded preceding and current row
            ) as cumulative_margin
        from monthly_margin
    ) as cumulative
    inner join spend_groups
        on {% for column in key %}cumulative.{{ column }} = spend_groups.{{ column }}
        {%- if not loop.last %} and {% endif %}{% endfor %}
    where spend_groups.spend > 0 and cumulative.cumulative_margin >= spend_groups.spend
    group by {% for column in key %}cumulative.{{ column }}{{ ', ' if not loop.last }}{% endfor %}

),

keys as (

    select {{ key | join(', ') }} from customer_stats
    union
    select {{ key | join(', ') }} from spend_groups

),

joined as (

    select
        {% for column in key %}keys.{{ column }}, {% endfor %}
        cast(coalesce(spend_groups.spend, 0) as decimal(18, 2)) as spend,
        coalesce(customer_stats.new_customers, 0) as new_customers,
        customer_stats.last_acquired_date,
        coalesce(customer_stats.net_revenue, 0) as net_revenue,
        coalesce(customer_stats.net_margin, 0) as net_margin,
        {% for n in days -%}
        customer_stats.net_revenue_{{ n }},
        customer_stats.net_margin_{{ n }},
        {% endfor -%}
        payback.payback_months
    from keys
    left join customer_stats
        on {% for column in key %}keys.{{ column }} = customer_stats.{{ column }}
        {%- if not loop.last %} and {% endif %}{% endfor %}
    left join spend_groups
        on {% for column in key %}keys.{{ column }} = spend_groups.{{ column }}
        {%- if not loop.last %} and {% endif %}{% endfor %}
    left join payback
        on {% for column in key %}keys.{{ column }} = payback.{{ column }}
        {%- if not loop.last %} and {% endif %}{% endfor %}

)

select
    joined.account,
    joined.currency,
    joined.cohort_month,
    joined.channel,
    joined.campaign,
    joined.spend,
    cast(joined.new_customers as integer) as new_customers,
    case
        when joined.spend > 0 and joined.new_customers > 0
            then {{ money_per('joined.spend', 'joined.new_customers') }}
    end as cac,
    cast(joined.net_revenue as decimal(18, 2)) as net_revenue,
    cast(joined.net_margin as decimal(18, 2)) as net_margin,
    {{ money_per('joined.net_revenue', 'joined.new_customers') }} as ltv_to_date,
    {{ money_per('joined.net_margin', 'joined.new_customers') }} as margin_ltv_to_date,
    {% for n in days -%}
    {%- set complete -%}
        cast({{ dbt.dateadd('day', n, 'joined.last_acquired_date') }} as date)
        <= as_of.as_of_date
    {%- endset -%}
    case when {{ complete }} then
        {{ money_per('joined.net_revenue_' ~ n, 'joined.new_customers') }}
    end as ltv_{{ n }},
    case when {{ complete }} then
        {{ money_per('joined.net_margin_' ~ n, 'joined.new_customers') }}
    end as margin_ltv_{{ n }},
    {% endfor -%}
    case
        when joined.spend > 0 and joined.new_customers > 0
            -- In cents both, so the division is of whole numbers and rounds exactly.
            then {{ rounded_quotient(
                'cast(joined.net_margin * 100 as bigint)', 'cast(joined.spend * 100 as bigint)', 2
            ) }}
    end as margin_ltv_to_cac,
    cast(joined.payback_months as integer) as payback_months
from joined
cross join as_of
