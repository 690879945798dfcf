{#-
    dbt-postgres's own macros where the project needs them to behave as dbt-duckdb's do: the
    root project's `postgres__` implementation of a macro dbt dispatches wins over the
    adapter's. DuckDB never reads this file.
-#}

{#-
    The incremental models' `on_schema_change: fail` check on PostgreSQL. It compares the
    columns a build computes (a temporary table from the model's SQL) with the table's. On a
    model with an enforced contract the table has the contract's types, which PostgreSQL
    spells differently from what the SQL computes while holding the same values:

    - `varchar` without a length is `text` with another name, and so are their arrays;
    - `numeric` from a sum or a CASE loses its `(18, 2)` typmod, while the insert casts each
      value into the contract's decimal (which dbt checks against the SQL on every full build).

    Those pairs are no change; any other difference (a column added, removed, or a type
    changed otherwise) still fails the build as on DuckDB.
-#}
{% macro postgres__diff_column_data_types(source_columns, target_columns) -%}
    {%- set contract = config.get('contract') -%}
    {%- set contracted = contract is not none and contract.enforced -%}
    {%- set result = [] -%}
    {%- for sc in source_columns -%}
        {%- set tc = target_columns | selectattr('name', 'equalto', sc.name) | list | first -%}
        {%- if tc and sc.expanded_data_type != tc.expanded_data_type
                and not sc.can_expand_to(other_column=tc)
                and not _same_postgres_values(sc, tc, contracted) -%}
            {%- do result.append({'column_name': tc.name, 'new_type': sc.expanded_data_type}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(result) }}
{%- endmacro %}

{% macro _same_postgres_values(computed, table, contracted) -%}
    {%- set unbounded = ['text', 'character varying'] -%}
    {%- if computed.dtype | lower in unbounded and table.dtype | lower in unbounded
            and computed.char_size is none and table.char_size is none -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set text_arrays = ['text[]', 'varchar[]'] -%}
    {%- if computed.dtype | lower in text_arrays and table.dtype | lower in text_arrays -%}
        {{ return(true) }}
    {%- endif -%}
    {{ return(
        contracted and computed.dtype | lower == 'numeric' and table.dtype | lower == 'numeric'
        and computed.numeric_precision is none
    ) }}
{%- endmacro %}


{#-
    dbt-postgres reads a column's type from information_schema, which says only `ARRAY` for an
    array; dbt then writes `cast(null as ARRAY)` for a unit test's input column left out of
    its rows, which PostgreSQL cannot parse (dbt-labs/dbt-adapters#939). The element type is
    in `udt_name` ('_varchar' for varchar[]).
-#}
{% macro postgres__get_columns_in_relation(relation) -%}
    {% call statement('get_columns_in_relation', fetch_result=True) %}
        select
            column_name,
            case when data_type = 'ARRAY' then substr(udt_name, 2) || '[]' else data_type end
                as data_type,
            character_maximum_length,
            numeric_precision,
            numeric_scale
        from {{ relation.information_schema('columns') }}
        where table_name = '{{ relation.identifier }}'
        {% if relation.schema %}
            and table_schema = '{{ relation.schema }}'
        {% endif %}
        order by ordinal_position
    {% endcall %}
    {{ return(sql_convert_columns_in_relation(load_result('get_columns_in_relation').table)) }}
{%- endmacro %}


{#-
    A unit test's fixture writes a list as DuckDB prints one ("['101', '102']"); PostgreSQL
    reads that text as an array of the elements between the brackets, unquoted, so the same
    fixture serves both. Every other cast is dbt's own.
-#}
{% macro postgres__safe_cast(field, type) -%}
    {%- if (type | trim).endswith('[]') and field is string and field.startswith("'[") -%}
        {%- set inner = "regexp_replace(" ~ field ~ ", '^\\s*\\[\\s*|\\s*\\]\\s*$', '', 'g')" -%}
        cast(case when {{ inner }} = '' then '{}' else array(
            select btrim(element, ''' "')
            from unnest(regexp_split_to_array({{ inner }}, ',')) with ordinality
                as elements (element, position)
            order by position
        ) end as {{ type }})
    {%- else -%}
        {{ dbt.default__safe_cast(field, type) }}
    {%- endif -%}
{%- endmacro %}
