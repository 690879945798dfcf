{#-
    Cleaning helpers shared by the staging models. Plain SQL only (trim, replace, case, cast),
    so they compile on any warehouse.
-#}

{#- ThriveCart writes a missing value as `-` in exports and as the string "null" in webhooks. -#}
{% macro null_if_missing(expr) -%}
    case when trim({{ expr }}) in ('', '-', 'null') then null else trim({{ expr }}) end
{%- endmacro %}

{#-
    Reverses PHP's htmlspecialchars(ENT_QUOTES), which is what ThriveCart applies to item names.
    `&amp;` goes last so that an escaped entity such as `&amp;lt;` becomes `&lt;`, not `<`.
-#}
{% macro html_unescape(expr) -%}
    replace(replace(replace(replace(replace(replace(
        {{ expr }},
        '&lt;', '<'), '&gt;', '>'), '&quot;', '"'), '&#039;', ''''), '&#39;', ''''), '&amp;', '&')
{%- endmacro %}

{#- A customer is one address: lower(trim(email)), the marts' identity rule. -#}
{% macro normalize_email(expr) -%}
    lower({{ null_if_missing(expr) }})
{%- endmacro %}

{#- Webhook money: integer cents as a string ("1499") -> DECIMAL(18,2) in major units. -#}
{% macro cents_to_amount(expr) -%}
    cast(cast({{ null_if_missing(expr) }} as bigint) * 0.01 as decimal(18, 2))
{%- endmacro %}

{#- Export money: "1,234.50" or "-47.00" in major units; a thousands separator is stripped. -#}
{% macro decimal_amount(expr) -%}
    cast(replace({{ null_if_missing(expr) }}, ',', '') as decimal(18, 2))
{%- endmacro %}
