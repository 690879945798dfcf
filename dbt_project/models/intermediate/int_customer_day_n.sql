{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_customers('email')) }}",
) }}
-- One row per (customer, currency, day N): what the customer paid within N local days of the
-- first payment's local date (day 0 is that day), on both refund clocks, in margin and in the
-- reporting currency. It does not depend on as_of, so it is kept per customer and only the
-- customers a build recomputes are replaced (macros/incremental.sql); ltv_day_n adds it up.
{%- set day_ns = var('day_n') %}
with customers as (

    select customer_id, email, currency, first_paid_date
    from {{ ref('dim_customers') }}
    where first_paid_date is not null and {{ in_changed_customers('email') }}

),

windows as (

    -- One pass over the payments: each day-N window is a conditional sum.
    select
        customers.customer_id,
        customers.currency
        {% for n in day_ns -%}
        {% for measure, (value, date_column) in day_n_measures().items() -%}
        , sum(case
            when payments.{{ date_column }}
                <= cast({{ dbt.dateadd('day', n, 'customers.first_paid_date') }} as date)
                then payments.{{ value }}
            else 0
        end) as {{ measure }}_{{ n }}
        {% endfor -%}
        {% endfor %}
    from customers
    inner join {{ ref('fct_payments') }} as payments
        on customers.customer_id = payments.customer_id
        and customers.currency = payments.currency
    where {{ in_changed_customers('payments.email') }}
    group by customers.customer_id, customers.currency

)

{% for n in day_ns -%}
select
    customers.customer_id,
    customers.email,
    customers.currency,
    cast({{ n }} as integer) as day_n,
    cast({{ dbt.dateadd('day', n, 'customers.first_paid_date') }} as date) as window_end_date,
    {% for measure in day_n_measures() -%}
    cast(windows.{{ measure }}_{{ n }} as decimal(18, 2)) as {{ measure }}{{ ',' if not loop.last }}
    {% endfor -%}
from customers
inner join windows
    on customers.customer_id = windows.customer_id
    and customers.currency = windows.currency
{% if not loop.last %}union all{% endif %}
{% endfor %}
