{#-
    The warehouse-specific functions the models need and dbt does not ship, behind
    adapter.dispatch: JSON access, time zone conversion, exact rounded division, the median,
    the first row of a group, epoch microseconds, sorted arrays and CTE hints. DuckDB's SQL
    is in `duckdb__` implementations, `default__` ones are the SQL standard's. Another
    warehouse adds its own `<adapter>__` implementation here; the models stay unchanged
    (docs/architecture.md, "Engine-specific SQL").
-#}

{#-
    Several JSON paths of literal keys ('order.charges', 'customer.email') at once -> an array
    of their values as text, in the order given; objects and arrays come back as JSON text.
    A payload is parsed once for all of them, which matters with ~2 KB payloads. Pick one
    value with json_list_item.
-#}
{% macro json_texts(json_expr, paths) -%}
    {{ return(adapter.dispatch('json_texts', 'thrivecart_ltv')(json_expr, paths)) }}
{%- endmacro %}

{% macro duckdb__json_texts(json_expr, paths) -%}
    json_extract_string({{ json_expr }}, [
        {%- for path in paths %}'{{ _json_path(path) }}'{{ ', ' if not loop.last }}{% endfor -%}
    ])
{%- endmacro %}

{#-
    PostgreSQL reads each path with `#>>` (text; objects and arrays as JSON text) from jsonb,
    its parsed form: the raw payloads are jsonb (pipeline/engines/postgres_raw.py). The CTE
    computing the list must be a computed_once_cte(), or PostgreSQL evaluates the whole list
    again for every json_list_item() that reads it.
-#}
{% macro postgres__json_texts(json_expr, paths) -%}
    array[
        {%- for path in paths %}
        cast(({{ json_expr }}) as jsonb) #>> {{ _json_path_array(path) }}
        {{- ', ' if not loop.last }}
        {%- endfor %}
    ]
{%- endmacro %}

{#- The value of `path` from the array json_texts built over `paths`. -#}
{% macro json_list_item(list_expr, paths, path) -%}
    {{ return(adapter.dispatch('json_list_item', 'thrivecart_ltv')(list_expr, paths.index(path))) }}
{%- endmacro %}

{#- DuckDB lists are 1-based. -#}
{% macro duckdb__json_list_item(list_expr, index) -%}
    {{ list_expr }}[{{ index + 1 }}]
{%- endmacro %}

{#- So are PostgreSQL's arrays; an expression needs parentheses to be subscripted. -#}
{% macro postgres__json_list_item(list_expr, index) -%}
    ({{ list_expr }})[{{ index + 1 }}]
{%- endmacro %}

{#- The value under a key computed per row (e.g. 'product-12') of a JSON object, as text. -#}
{% macro json_text_at_key(json_expr, key_expr) -%}
    {{ return(adapter.dispatch('json_text_at_key', 'thrivecart_ltv')(json_expr, key_expr)) }}
{%- endmacro %}

{% macro duckdb__json_text_at_key(json_expr, key_expr) -%}
    json_extract_string({{ json_expr }}, '$."' || {{ key_expr }} || '"')
{%- endmacro %}

{% macro postgres__json_text_at_key(json_expr, key_expr) -%}
    (cast(({{ json_expr }}) as jsonb) ->> ({{ key_expr }}))
{%- endmacro %}

{#-
    A lateral relation with one row per element of a JSON array: columns `element_index`
    (0-based position) and `element` (JSON text). Use as
    `cross join {{ json_array_elements('orders.charges_json') }} as charge`.
-#}
{% macro json_array_elements(json_expr) -%}
    {{ return(adapter.dispatch('json_array_elements', 'thrivecart_ltv')(json_expr)) }}
{%- endmacro %}

{% macro duckdb__json_array_elements(json_expr) -%}
    (
        select cast(key as integer) as element_index, value as element
        from json_each({{ json_expr }})
    )
{%- endmacro %}

{#-
    PostgreSQL joins a subquery that reads the outer row only when it is `lateral`. DuckDB's
    json_each also walks an object by its keys ('0', '1', ... where a form-encoded list became
    an object); PostgreSQL has a function for each kind, so both are here. Anything else
    (null, a scalar) has no elements.
-#}
{% macro postgres__json_array_elements(json_expr) -%}
    {%- set value = 'cast((' ~ json_expr ~ ') as jsonb)' -%}
    lateral (
        select cast(position - 1 as integer) as element_index, element
        from jsonb_array_elements(
            case when jsonb_typeof({{ value }}) = 'array' then {{ value }} end
        ) with ordinality as elements (element, position)
        union all
        select cast(key as integer) as element_index, value as element
        from jsonb_each(case when jsonb_typeof({{ value }}) = 'object' then {{ value }} end)
    )
{%- endmacro %}

{#- Every key is quoted, so ids with dashes ('product-12') are safe steps; '' is the root. -#}
{% macro _json_path(path) -%}
    ${% for key in path.split('.') if key %}."{{ key }}"{% endfor %}
{%- endmacro %}

{#- The same path as a text[] literal for PostgreSQL's `#>>`: '{}' is the root. -#}
{% macro _json_path_array(path) -%}
    '{ {%- for key in path.split('.') if key %}"{{ key }}"{{ ',' if not loop.last }}{% endfor -%} }'
{%- endmacro %}

{#-
    A naive local TIMESTAMP on the `from_tz` clock -> the naive TIMESTAMP on the `to_tz` clock.
    The same zone on both sides (the default, UTC everywhere) costs nothing.
-#}
{% macro convert_timezone(expr, from_tz, to_tz) -%}
    {%- if from_tz == to_tz -%}
        {{ expr }}
    {%- else -%}
        {{ return(adapter.dispatch('convert_timezone', 'thrivecart_ltv')(expr, from_tz, to_tz)) }}
    {%- endif -%}
{%- endmacro %}

{#-
    With ICU, `timestamp at time zone` gives a TIMESTAMPTZ and `timestamptz at time zone` a
    naive TIMESTAMP again, so the session time zone never leaks into the result. Postgres has
    the same semantics.
-#}
{% macro default__convert_timezone(expr, from_tz, to_tz) -%}
    (({{ expr }}) at time zone '{{ from_tz }}') at time zone '{{ to_tz }}'
{%- endmacro %}

{#-
    A number divided by a count, rounded half away from zero to `scale` decimals, exactly, as
    DECIMAL(18, scale). Null when the count is 0. The number has at most `scale` decimals
    (money to the cent, or a whole count). Postgres divides numerics exactly; DuckDB turns
    decimal division into DOUBLE, where 2.01 / 2 rounds to 1.00, so it divides whole units of
    the last decimal as integers instead.
-#}
{% macro rounded_quotient(number, count, scale) -%}
    {{ return(adapter.dispatch('rounded_quotient', 'thrivecart_ltv')(number, count, scale)) }}
{%- endmacro %}

{% macro default__rounded_quotient(number, count, scale) -%}
    cast(
        round(({{ number }}) * 1.0 / nullif({{ count }}, 0), {{ scale }})
        as decimal(18, {{ scale }})
    )
{%- endmacro %}

{% macro duckdb__rounded_quotient(number, count, scale) -%}
    cast(
        (case when ({{ number }}) < 0 then -1 else 1 end)
        * ((abs(cast(({{ number }}) * {{ 10 ** scale }} as hugeint)) * 2 + ({{ count }}))
            // nullif(2 * ({{ count }}), 0))
        * {{ '1' if scale == 0 else '0.' ~ '0' * (scale - 1) ~ '1' }}
        as decimal(18, {{ scale }})
    )
{%- endmacro %}

{#-
    Money converted at a cross rate: `amount` × `rate_to` / `rate_from` (both rates against one
    base), rounded half away from zero to the cent. DuckDB divides decimals as doubles, so its
    version works in whole cents and rates scaled to integers, as rounded_quotient does.
-#}
{% macro convert_money(amount, rate_to, rate_from) -%}
    {{ return(adapter.dispatch('convert_money', 'thrivecart_ltv')(amount, rate_to, rate_from)) }}
{%- endmacro %}

{% macro default__convert_money(amount, rate_to, rate_from) -%}
    cast(round(({{ amount }}) * ({{ rate_to }}) / ({{ rate_from }}), 2) as decimal(18, 2))
{%- endmacro %}

{% macro duckdb__convert_money(amount, rate_to, rate_from) -%}
    {%- set scaled_from = 'cast((' ~ rate_from ~ ') * 100000000 as hugeint)' -%}
    cast(
        (case when ({{ amount }}) < 0 then -1 else 1 end)
        * ((abs(cast(({{ amount }}) * 100 as hugeint))
            * cast(({{ rate_to }}) * 100000000 as hugeint) * 2 + {{ scaled_from }})
            // (2 * {{ scaled_from }}))
        * 0.01
        as decimal(18, 2)
    )
{%- endmacro %}

{#- Money divided by a count (LTV per customer): rounded_quotient to the cent. -#}
{% macro money_per(amount, count) -%}
    {{ rounded_quotient(amount, count, 2) }}
{%- endmacro %}

{#-
    The median of `expr` as an aggregate (nulls ignored; the mean of the two middle values
    when their number is even). DuckDB has median(); the default is the SQL standard's
    ordered-set aggregate.
-#}
{% macro median(expr) -%}
    {{ return(adapter.dispatch('median', 'thrivecart_ltv')(expr)) }}
{%- endmacro %}

{% macro default__median(expr) -%}
    percentile_cont(0.5) within group (order by {{ expr }})
{%- endmacro %}

{% macro duckdb__median(expr) -%}
    median({{ expr }})
{%- endmacro %}

{#-
    The export time in a file name such as 'ThriveCart Subscription Export 2024-05-01
    10_00_00.csv' (anywhere in the name, so 'export … (1).csv' from a second download still
    has it), or NULL when the name holds none (a renamed file).
-#}
{% macro export_stamp(path_expr) -%}
    {{ return(adapter.dispatch('export_stamp', 'thrivecart_ltv')(path_expr)) }}
{%- endmacro %}

{% macro duckdb__export_stamp(path_expr) -%}
    try_strptime(
        regexp_extract({{ path_expr }}, '\d{4}-\d{2}-\d{2} \d{2}_\d{2}_\d{2}'),
        '%Y-%m-%d %H_%M_%S'
    )
{%- endmacro %}

{#-
    PostgreSQL: the stamp with ':' for '_' read as a timestamp (to_timestamp would give a
    timestamptz on the session's clock). The pattern takes only months 01-12, days 01-31 and
    a 24-hour clock, so a name like 'export 2024-13-01 10_00_00' has no stamp, as try_strptime
    makes it in DuckDB; a day the month lacks (2024-02-30) passes it and fails the cast.
-#}
{% macro postgres__export_stamp(path_expr) -%}
    {#- Jinja reads a backslash in its strings as an escape: `\\d` is the SQL's `\d`. -#}
    {%- set day = '\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])' -%}
    {%- set clock = '([01]\\d|2[0-3])_[0-5]\\d_[0-5]\\d' -%}
    cast(replace(substring({{ path_expr }} from '({{ day }} {{ clock }})'), '_', ':') as timestamp)
{%- endmacro %}

{#-
    Every value of `expr` in the group (nulls included) as an array, in ascending order: the
    SQL standard's ordered array_agg.
-#}
{% macro sorted_array_agg(expr) -%}
    {{ return(adapter.dispatch('sorted_array_agg', 'thrivecart_ltv')(expr)) }}
{%- endmacro %}

{% macro default__sorted_array_agg(expr) -%}
    array_agg({{ expr }} order by {{ expr }})
{%- endmacro %}

{#-
    `with name as {{ materialized_cte() }} (...)`: a CTE computed once, not inlined into every
    reference, where the warehouse takes the hint. The rows are the same either way; the SQL
    standard has no such keyword, so by default there is none.
-#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'thrivecart_ltv')()) }}
{%- endmacro %}

{% macro default__materialized_cte() -%}
{%- endmacro %}

{% macro duckdb__materialized_cte() -%}
    materialized
{%- endmacro %}

{#-
    `with name as {{ computed_once_cte() }} (...)` for a CTE whose computed column (a
    json_texts list) many expressions read: PostgreSQL inlines a CTE read once, and with it
    copies the column's expression into every reference, so each json_list_item() would read
    every path of the payload again (a 100k-row seller's webhook staging took 177 s so).
    Materialized, the list is computed once per row. DuckDB computes it once either way, and
    streams the rows instead of storing them.
-#}
{% macro computed_once_cte() -%}
    {{ return(adapter.dispatch('computed_once_cte', 'thrivecart_ltv')()) }}
{%- endmacro %}

{% macro default__computed_once_cte() -%}
{%- endmacro %}

{% macro postgres__computed_once_cte() -%}
    materialized
{%- endmacro %}

{#-
    The first row of each group, in one pass over `relation` (its rows where `where`, when
    given): a select of the `group_by` columns and, per pick (columns, order_by), those columns
    of the group's first row by `order_by`. The order_by expressions sort ascending with nulls
    last, and the last should make the row unique. Picks with different orders share the pass.
    Use as a CTE's body; the columns are plain column names.
-#}
{% macro first_in_group(relation, group_by, picks, where=none) -%}
    {{ return(adapter.dispatch('first_in_group', 'thrivecart_ltv')(
        relation, group_by, picks, where
    )) }}
{%- endmacro %}

{#-
    A row_number() window per pick, and per group the values of the row it ranks first
    (max() over one row; a picked column must be of a type max() takes).
-#}
{% macro default__first_in_group(relation, group_by, picks, where) -%}
    {%- set items = [] -%}
    {%- for columns, order_by in picks -%}
        {%- set pick = loop.index -%}
        {%- for column in columns -%}
            {%- do items.append(
                'max(case when first_in_group_' ~ pick ~ ' = 1 then ' ~ column ~ ' end) as '
                ~ column
            ) -%}
        {%- endfor -%}
    {%- endfor %}
    select
        {{ group_by | join(', ') }},
        {{ items | join(',\n        ') }}
    from (
        select
            *
            {%- for columns, order_by in picks %},
            row_number() over (
                partition by {{ group_by | join(', ') }}
                order by {{ order_by | join(' nulls last, ') }} nulls last
            ) as first_in_group_{{ loop.index }}
            {%- endfor %}
        from {{ relation }}
        {%- if where %}
        where {{ where }}
        {%- endif %}
    ) as ranked
    group by {{ group_by | join(', ') }}
{%- endmacro %}

{#-
    arg_min() over structs: no sort, and a struct compares field by field with a null field
    last. A struct is never null, so no row is skipped.
-#}
{% macro duckdb__first_in_group(relation, group_by, picks, where) -%}
    select
        {{ group_by | join(', ') }}
        {%- for columns, order_by in picks %}
        {%- set pick = loop.index %}
        {%- for column in columns %},
        firsts.first_in_group_{{ pick }}.{{ column }} as {{ column }}
        {%- endfor %}
        {%- endfor %}
    from (
        select
            {{ group_by | join(', ') }}
            {%- for columns, order_by in picks %},
            arg_min(
                struct_pack({{ columns | join(', ') }}),
                struct_pack(
                    {%- for expr in order_by %}
                    key_{{ loop.index }} := {{ expr }}{{ ',' if not loop.last }}
                    {%- endfor %}
                )
            ) as first_in_group_{{ loop.index }}
            {%- endfor %}
        from {{ relation }}
        {%- if where %}
        where {{ where }}
        {%- endif %}
        group by {{ group_by | join(', ') }}
    ) as firsts
{%- endmacro %}

{#- A timestamp as whole microseconds since 1970-01-01 00:00:00 (a BIGINT). -#}
{% macro epoch_microseconds(expr) -%}
    {{ return(adapter.dispatch('epoch_microseconds', 'thrivecart_ltv')(expr)) }}
{%- endmacro %}

{% macro duckdb__epoch_microseconds(expr) -%}
    epoch_us({{ expr }})
{%- endmacro %}

{#- PostgreSQL's epoch is exact (numeric) since version 14. -#}
{% macro postgres__epoch_microseconds(expr) -%}
    cast(extract(epoch from {{ expr }}) * 1000000 as bigint)
{%- endmacro %}



{#-
    A schema's name for `create schema`, in the target's database: the SQL standard (and
    DuckDB, where other databases may be attached) qualify it with the catalog; PostgreSQL
    names only schemas of the database it is connected to, and refuses the qualifier there.
-#}
{% macro schema_in_target_database(schema) -%}
    {{ return(adapter.dispatch('schema_in_target_database', 'thrivecart_ltv')(schema)) }}
{%- endmacro %}

{% macro default__schema_in_target_database(schema) -%}
    {{ target.database }}.{{ schema }}
{%- endmacro %}

{% macro postgres__schema_in_target_database(schema) -%}
    {{ schema }}
{%- endmacro %}
