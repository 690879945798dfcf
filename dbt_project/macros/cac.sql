{#- cac_cohorts' groups of customers: per campaign, per channel (campaign '*') and per
    account, currency and month (channel and campaign '*'). `customers` has one row per
    acquired customer with account, currency, cohort_month, channel and campaign. -#}
{% macro cac_group_columns() -%}
    customers.account,
    customers.currency,
    customers.cohort_month,
    case when grouping(customers.channel) = 0 then customers.channel else '*' end as channel,
    case when grouping(customers.campaign) = 0 then customers.campaign else '*' end as campaign
{%- endmacro %}


{#- The grouping sets of those groups, each with `extra` (an expression) when given. -#}
{% macro cac_grouping_sets(extra=none) -%}
    {%- set common = 'customers.account, customers.currency, customers.cohort_month' -%}
    {%- set tail = ', ' ~ extra if extra else '' -%}
    grouping sets (
        ({{ common }}, customers.channel, customers.campaign{{ tail }}),
        ({{ common }}, customers.channel{{ tail }}),
        ({{ common }}{{ tail }})
    )
{%- endmacro %}
