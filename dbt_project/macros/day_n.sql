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

{#- The segments of ltv_day_n besides 'all': segment type -> its value for a customer of
    dim_customers (a missing campaign or affiliate is '(none)'; a traffic source before
    tracking existed is '(not tracked)'). -#}
{% macro day_n_segments() -%}
    {%- set segments = {
        'cohort_month': 'cast(customers.cohort_month as ' ~ dbt.type_string() ~ ')',
        'first_product': "coalesce(customers.first_product_id, '(none)')",
        'campaign': "coalesce(customers.acquisition_campaign_id, '(none)')",
        'affiliate': "coalesce(customers.acquisition_affiliate_id, '(none)')",
    } -%}
    {%- for key in utm_segments() -%}
        {%- do segments.update({key: "coalesce(customers.acquisition_" ~ key ~ ", '(not tracked)')"}) -%}
    {%- endfor -%}
    {{ return(segments) }}
{%- endmacro %}
