{#- The day-N measures of int_customer_day_n and ltv_day_n: measure -> (the payment's value,
    the date that places it in a window). Margin counts on the cash clock. -#}
{% macro day_n_measures() -%}
    {{ return({
        'net_revenue': ('amount', 'paid_date'),
        'net_revenue_charge_clock': ('amount', 'charge_clock_date'),
        'net_margin': ('margin', 'paid_date'),
        'net_revenue_reporting': ('amount_reporting', 'paid_date'),
        'net_margin_reporting': ('margin_reporting', 'paid_date'),
    }) }}
{%- endmacro %}
