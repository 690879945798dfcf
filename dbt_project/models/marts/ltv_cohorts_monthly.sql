-- One row per (currency, cohort month, months since acquisition), from month 0 up to the
-- month of as_of, including months in which nobody paid (the cumulative value carries on).
with customers as (

    select customer_id, currency, cohort_month
    from {{ ref('dim_customers') }}
    where cohort_month is not null

),

as_of as (

    select
        as_of_date,
        cast({{ dbt.date_trunc('month', 'as_of_date') }} as date) as as_of_month
    from {{ ref('int_as_of_computed') }}

),

cohorts as (

    select currency, cohort_month, count(*) as cohort_customers
    from customers
    group by currency, cohort_month

),

month_numbers as (

    -- A century of months is more history than any seller has.
    select generated_number - 1 as months_since_acquisition
    from ({{ dbt.generate_series(1200) }}) as series

),

cohort_months as (

    select
        cohorts.currency,
        cohorts.cohort_month,
        cohorts.cohort_customers,
        month_numbers.months_since_acquisition,
        cast({{ dbt.dateadd(
            'month', 'month_numbers.months_since_acquisition', 'cohorts.cohort_month'
        ) }} as date) as activity_month,
        as_of.as_of_date
    from cohorts
    cross join as_of
    inner join month_numbers
        on month_numbers.months_since_acquisition
        <= {{ dbt.datediff('cohorts.cohort_month', 'as_of.as_of_month', 'month') }}

),

monthly as (

    -- Each customer's months, kept per customer (int_customer_months), added up by cohort.
    select
        currency,
        cohort_month,
        months_since_acquisition,
        sum(is_paying) as paying_customers,
        sum(net_revenue) as net_revenue,
        sum(net_margin) as net_margin,
        sum(net_revenue_reporting) as net_revenue_reporting,
        sum(net_margin_reporting) as net_margin_reporting,
        sum(net_revenue_charge_clock) as net_revenue_charge_clock
    from {{ ref('int_customer_months') }}
    group by currency, cohort_month, months_since_acquisition

),

filled as (

    select
        cohort_months.currency,
        cohort_months.cohort_month,
        cohort_months.months_since_acquisition,
        cohort_months.activity_month,
        cohort_months.cohort_customers,
        coalesce(monthly.paying_customers, 0) as paying_customers,
        coalesce(monthly.net_revenue, 0) as net_revenue,
        coalesce(monthly.net_margin, 0) as net_margin,
        {%- if var('reporting_currency') %}
        coalesce(monthly.net_revenue_reporting, 0) as net_revenue_reporting,
        coalesce(monthly.net_margin_reporting, 0) as net_margin_reporting,
        {%- else %}
        cast(null as decimal(18, 2)) as net_revenue_reporting,
        cast(null as decimal(18, 2)) as net_margin_reporting,
        {%- endif %}
        coalesce(monthly.net_revenue_charge_clock, 0) as net_revenue_charge_clock,
        -- The month has fully elapsed once as_of reaches the first day of the next one.
        cohort_months.as_of_date
        >= cast({{ dbt.dateadd('month', 1, 'cohort_months.activity_month') }} as date)
            as is_complete
    from cohort_months
    left join monthly
        on cohort_months.currency = monthly.currency
        and cohort_months.cohort_month = monthly.cohort_month
        and cohort_months.months_since_acquisition = monthly.months_since_acquisition

),

cumulative as (

    select
        *,
        sum(net_revenue) over (
            partition by currency, cohort_month
            order by months_since_acquisition
            rows between unbounded preceding and current row
        ) as cumulative_net_revenue,
        sum(net_revenue_charge_clock) over (
            partition by currency, cohort_month
            order by months_since_acquisition
            rows between unbounded preceding and current row
        ) as cumulative_net_revenue_charge_clock,
        sum(net_margin) over (
            partition by currency, cohort_month
            order by months_since_acquisition
            rows between unbounded preceding and current row
        ) as cumulative_margin,
        {% for measure in ['net_revenue_reporting', 'net_margin_reporting'] -%}
        sum({{ measure }}) over (
            partition by currency, cohort_month
            order by months_since_acquisition
            rows between unbounded preceding and current row
        ) as cumulative_{{ measure }}{{ ',' if not loop.last }}
        {% endfor %}
    from filled

)

select
    currency,
    cohort_month,
    cast(months_since_acquisition as integer) as months_since_acquisition,
    activity_month,
    cast(cohort_customers as integer) as cohort_customers,
    cast(paying_customers as integer) as paying_customers,
    cast(net_revenue as decimal(18, 2)) as net_revenue,
    cast(cumulative_net_revenue as decimal(18, 2)) as cumulative_net_revenue,
    {{ money_per('cumulative_net_revenue', 'cohort_customers') }} as ltv_per_customer,
    is_complete,
    cast(net_revenue_charge_clock as decimal(18, 2)) as net_revenue_charge_clock,
    cast(cumulative_net_revenue_charge_clock as decimal(18, 2))
        as cumulative_net_revenue_charge_clock,
    {{ money_per('cumulative_net_revenue_charge_clock', 'cohort_customers') }}
        as ltv_per_customer_charge_clock,
    cast(net_margin as decimal(18, 2)) as net_margin,
    cast(cumulative_margin as decimal(18, 2)) as cumulative_margin,
    {{ money_per('cumulative_margin', 'cohort_customers') }} as margin_ltv_per_customer,
    cast(net_revenue_reporting as decimal(18, 2)) as net_revenue_reporting,
    cast(cumulative_net_revenue_reporting as decimal(18, 2)) as cumulative_net_revenue_reporting,
    cast(net_margin_reporting as decimal(18, 2)) as net_margin_reporting,
    cast(cumulative_net_margin_reporting as decimal(18, 2)) as cumulative_margin_reporting

from cumulative
