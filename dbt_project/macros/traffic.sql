{#-
    The traffic segments: the passthrough keys of the acquiring order that dim_customers keeps
    (acquisition_<key>) and ltv_day_n groups customers by.
-#}
{% macro utm_segments() -%}
    {{ return(['utm_source', 'utm_medium', 'utm_campaign']) }}
{%- endmacro %}
