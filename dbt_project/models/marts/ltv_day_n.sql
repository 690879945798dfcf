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

    -- Each customer's day-N sums with their segments; eligibility moves with as_of. Every
    -- customer belongs to one value of each segment type; a missing campaign or affiliate is
    -- its own segment, '(none)'. The traffic source (utm_*) of a customer whose acquiring order
    -- came before tracking existed is '(not tracked)'.
    select
        customers.currency,
        customer_day_n.day_n,
        {% for segment_type, value in day_n_segments().items() -%}
        {{ value }} as {{ segment_type }},
        {% endfor -%}
        customer_day_n.window_end_date <= as_of.as_of_date as is_eligible,
        {% for measure in day_n_measures() -%}
        customer_day_n.{{ measure }}{{ ',' if not loop.last }}
        {% endfor %}
    from customers
    inner join {{ ref('int_customer_day_n') }} as customer_day_n
        on customers.customer_id = customer_day_n.customer_id
        and customers.currency = customer_day_n.currency
    cross join as_of

),

aggregated as (

    -- One grouping set per segment type (and one for all customers): a single pass over the
    -- customers' rows instead of a copy of them per segment type.
    select
        currency,
        day_n,
        case
            {% for segment_type in day_n_segments() -%}
            when grouping({{ segment_type }}) = 0 then '{{ segment_type }}'
            {% endfor -%}
            else 'all'
        end as segment_type,
        case
            {% for segment_type in day_n_segments() -%}
            when grouping({{ segment_type }}) = 0 then {{ segment_type }}
            {% endfor -%}
            else 'all'
        end as segment_value,
        count(*) as customers,
        sum(case when is_eligible then 1 else 0 end) as eligible_customers,
        {% for measure in day_n_measures() -%}
        sum(case when is_eligible then {{ measure }} else 0 end) as {{ measure }}
        {{- ',' if not loop.last }}
        {% endfor %}
    from customer_day_n
    group by grouping sets (
        (currency, day_n),
        {% for segment_type in day_n_segments() -%}
        (currency, day_n, {{ segment_type }}){{ ',' if not loop.last }}
        {% endfor %}
    )

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
