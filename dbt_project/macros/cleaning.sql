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
        '&lt;', '<'), '&gt;', '>'), '&quot;', '"'), '&#039;', {{ quote_literal() }}), '&#39;', {{ quote_literal() }}), '&amp;', '&')
{%- endmacro %}

{#- A single quote as a string literal: the SQL standard doubles it inside the quotes. -#}
{% macro quote_literal() -%}
    {{ return(adapter.dispatch('quote_literal', 'thrivecart_ltv')()) }}
{%- endmacro %}

{% macro default__quote_literal() -%}
    ''''
{%- endmacro %}

{#- A customer is one address: lower(trim(email)), the marts' identity rule. -#}
{% macro normalize_email(expr) -%}
    lower({{ null_if_missing(expr) }})
{%- endmacro %}

{#- Webhook money: integer cents as a string ("1499") -> DECIMAL(18,2) in major units. -#}
{% macro cents_to_amount(expr) -%}
    cast(cast({{ null_if_missing(expr) }} as bigint) * 0.01 as decimal(18, 2))
{%- endmacro %}

{#-
    A webhook item's amount as the customer paid it: `amount_gross` (tax included), else
    `amount` (docs/interfaces.md, "Semantics"), from a json_texts list built over `paths`.
-#}
{% macro gross_cents_amount(list_expr, paths) -%}
    coalesce(
        {{ cents_to_amount(json_list_item(list_expr, paths, 'amount_gross')) }},
        {{ cents_to_amount(json_list_item(list_expr, paths, 'amount')) }}
    )
{%- endmacro %}

{#-
    Export money: "-47.00" or "1,234.50" in major units; a thousands separator is stripped.
    A comma without a dot ("47,00" from a re-saved spreadsheet, or "1,234") is ambiguous: NULL,
    which the not_null tests on amounts report, rather than a guess off by a factor of 100.
    The outer cast keeps the column DECIMAL(18, 2): PostgreSQL types a CASE of decimals as a
    numeric of any scale.
-#}
{% macro decimal_amount(expr) -%}
    cast(
        case
            when {{ expr }} like '%,%' and {{ expr }} not like '%.%' then null
            else cast(replace({{ null_if_missing(expr) }}, ',', '') as decimal(18, 2))
        end
        as decimal(18, 2)
    )
{%- endmacro %}

{#-
    A select list over `columns` ((name, type) pairs, in order) for one branch of a union:
    the columns in `same` as they are, those in `exprs` as the expression given, every other
    one a NULL of its type (`string`, `timestamp` or `amount`). A branch names only what it
    has, and every branch keeps the union's order and types.
-#}
{% macro padded_select_list(columns, same=[], exprs={}) -%}
    {%- set types = {
        'string': dbt.type_string(),
        'timestamp': dbt.type_timestamp(),
        'amount': 'decimal(18, 2)',
    } -%}
    {%- for name, type in columns %}
        {% if name in same -%}
            {{ name }}
        {%- elif name in exprs -%}
            {{ exprs[name] }} as {{ name }}
        {%- else -%}
            cast(null as {{ types[type] }}) as {{ name }}
        {%- endif %}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- An export's item as one spelling: 'product-12', 'product_12' or just 'product'. -#}
{% macro export_item_ref() -%}
    lower(replace({{ null_if_missing('relevant_item') }}, '_', '-'))
{%- endmacro %}

{#- An export row's local time: order_date and order_time (midnight when missing). -#}
{% macro export_local_time() -%}
    {{ dbt.safe_cast(
        "order_date || ' ' || coalesce(" ~ null_if_missing('order_time') ~ ", '00:00:00')",
        dbt.type_timestamp()
    ) }}
{%- endmacro %}
