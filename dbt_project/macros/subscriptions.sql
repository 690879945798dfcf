{#-
    A recurring amount per `frequency` as an amount per month, rounded half up to the cent
    (docs/marts.md, "Subscription economics"); null for a frequency that is none of these.
-#}
{% macro monthly_amount(amount, frequency) -%}
    cast(
        case lower({{ frequency }})
            when 'month' then {{ amount }}
            when 'year' then {{ rounded_quotient(amount, 12, 2) }}
            when 'quarter' then {{ rounded_quotient(amount, 3, 2) }}
            when 'week' then {{ rounded_quotient(amount ~ ' * 52', 12, 2) }}
            when 'day' then {{ rounded_quotient(amount ~ ' * 365', 12, 2) }}
        end
        as decimal(18, 2)
    )
{%- endmacro %}

{#-
    A subquery of every month from `first_month` to `last_month` (SQL expressions of first days,
    both included, scalar subqueries allowed) as column `month`, on dbt's portable
    generate_series (up to 100 years).
-#}
{% macro month_spine(first_month, last_month) -%}
    (
        select cast({{ dbt.dateadd('month', 'generated_number - 1', first_month) }} as date)
            as month
        from ({{ dbt.generate_series(1200) }}) as offsets
        where generated_number - 1 <= {{ dbt.datediff(first_month, last_month, 'month') }}
    )
{%- endmacro %}

{#-
    The subscription of each order item, from the payments: rebill, failure and cancellation
    webhooks name the order item, not always the subscription.
-#}
{% macro subscription_items() -%}
    select distinct order_id, item_type, product_id, subscription_id
    from {{ ref('fct_payments') }}
    where subscription_id is not null
{%- endmacro %}
