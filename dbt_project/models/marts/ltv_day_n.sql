-- LTV at day N, one row per (currency, segment_type, segment_value, day_n). A customer counts
-- once acquired at least N days before as_of (eligible); their revenue counts for payments
-- dated at most N local days after the first payment's local date (day 0 is that day), on
-- either clock: refunds on the day they happened (cash) or on their charge's day (charge).
-- Margin (revenue less processor fees and product costs) counts on the cash clock. The
-- per-customer sums are int_customer_day_n; this adds them up by segment.
with customers as (

    select *
    from {{ ref('dim_customers') }}
    where first_paid_date is not null

),

as_of as (

    select as_of_date from {{ ref('int_as_of_computed') }}

),

customer_day_n as (

    -- Each customer's day-N sums, kept per customer; eligibility moves with as_of.
    select
        customer_day_n.*,
        customer_day_n.window_end_date <= as_of.as_of_date as is_eligible
    from {{ ref('int_customer_day_n') }} as customer_day_n
    cross join as_of

),

segments as (

    -- Every customer belongs to one value of each segment type; a missing campaign or
    -- affiliate is its own segment, '(none)'. The traffic source (utm_*) of a customer whose
    -- acquiring order came before tracking existed is '(not tracked)'.
    select customer_id, currency, 'all' as segment_type, 'all' as segment_value
    from customers
    union all
    select customer_id, currency, 'cohort_month', cast(cohort_month as {{ dbt.type_string() }})
    from customers
    union all
    select customer_id, currency, 'first_product', coalesce(first_product_id, '(none)')
    from customers
    union all
    select customer_id, currency, 'campaign', coalesce(acquisition_campaign_id, '(none)')
    from customers
    union all
    select customer_id, currency, 'affiliate', coalesce(acquisition_affiliate_id, '(none)')
    from customers
    {% for key in utm_segments() -%}
    union all
    select customer_id, currency, '{{ key }}', coalesce(acquisition_{{ key }}, '(not tracked)')
    from customers
    {% endfor %}

),

aggregated as (

    select
        segments.currency,
        segments.segment_type,
        segments.segment_value,
        customer_day_n.day_n,
        count(*) as customers,
        sum(case when customer_day_n.is_eligible then 1 else 0 end) as eligible_customers,
        {% for measure in day_n_measures() -%}
        sum(case
            when customer_day_n.is_eligible then customer_day_n.{{ measure }} else 0
        end) as {{ measure }}{{ ',' if not loop.last }}
        {% endfor %}    from segments
    inner join customer_day_n
        on segments.customer_id = customer_day_n.customer_id
        and segments.currency = customer_day_n.currency
    group by segments.currency, segments.segment_type, segments.segment_value, customer_day_n.day_n

)

select
    currency,
    segment_type,
    segment_value,
    cast(day_n as integer) as day_n,
    cast(customers as integer) as customers,
    cast(eligible_customers as integer) as eligible_customers,
    cast(net_revenue as decimal(18, 2)) as net_revenue,
    {{ money_per('net_revenue', 'eligible_customers') }} as ltv,
    cast(net_revenue_charge_clock as decimal(18, 2)) as net_revenue_charge_clock,
    {{ money_per('net_revenue_charge_clock', 'eligible_customers') }} as ltv_charge_clock,
    cast(net_margin as decimal(18, 2)) as net_margin,
    {{ money_per('net_margin', 'eligible_customers') }} as margin_ltv,
    {% for measure in ['net_revenue_reporting', 'net_margin_reporting'] -%}
    {% if var('reporting_currency') -%}
    cast({{ measure }} as decimal(18, 2))
    {%- else -%}
    cast(null as decimal(18, 2))
    {%- endif %} as {{ measure }}{{ ',' if not loop.last }}
    {% endfor %}

from aggregated
