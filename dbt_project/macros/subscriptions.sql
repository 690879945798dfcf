{#-
    A recurring amount per `frequency` as an amount per month, rounded half up to the cent
    (docs/marts.md, "Subscription economics"); null for a frequency that is none of these.
-#}
{% macro monthly_amount(amount, frequency) -%}
    case lower({{ frequency }})
        when 'month' then {{ amount }}
        when 'year' then {{ rounded_quotient(amount, 12, 2) }}
        when 'quarter' then {{ rounded_quotient(amount, 3, 2) }}
        when 'week' then {{ rounded_quotient(amount ~ ' * 52', 12, 2) }}
        when 'day' then {{ rounded_quotient(amount ~ ' * 365', 12, 2) }}
    end
{%- endmacro %}
