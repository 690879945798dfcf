{#-
    What the project needs on Spark (dbt-spark, LTV_ENGINE=spark) beyond the dispatched SQL
    of cross_database.sql: the raw tables, the build state and the incremental models. Every
    table is Parquet: Spark's Parquet tables take no DELETE, UPDATE or MERGE (those need Delta
    or Iceberg, whose jars come only from Maven, which a build does not download), so on Spark
    every build computes every model whole. Neither DuckDB nor PostgreSQL reads this file.
-#}

{#-
    on-run-start: each raw table is a Parquet table over the folder the loaders' rows were
    written to (pipeline/engines/spark.py writes `<storage>/raw/<table>/`). Defined again at
    every build, so a build reads the files as they are now and a new column is seen.
-#}
{% macro attach_raw_tables() -%}
    {{ return(adapter.dispatch('attach_raw_tables', 'thrivecart_ltv')()) }}
{%- endmacro %}

{% macro default__attach_raw_tables() -%}
{%- endmacro %}

{% macro spark__attach_raw_tables() -%}
    {%- if execute -%}
        {%- set folder = var('ltv_spark_storage', '../warehouse/spark') ~ '/raw/' -%}
        {%- set tables = graph.sources.values() | selectattr('schema', 'equalto', 'raw')
            | map(attribute='name') | unique | list -%}
        {%- do run_query('create database if not exists raw') -%}
        {#- The sources, and the load bookkeeping int_build_units reads by name. -#}
        {%- for table in (tables + ['landing_files', 'webhook_segments']) | unique -%}
            {%- do run_query('drop table if exists raw.' ~ table) -%}
            {%- do run_query(
                'create table raw.' ~ table ~ " using parquet location '" ~ folder ~ table ~ "'"
            ) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}


{#- Spark names a database (its word for a schema) without a catalog. -#}
{% macro spark__schema_in_target_database(schema) -%}
    {{ schema }}
{%- endmacro %}


{#- True where a build cannot replace part of a table, so every model is computed whole. -#}
{% macro rebuilds_every_model() -%}
    {{ return(adapter.dispatch('rebuilds_every_model', 'thrivecart_ltv')()) }}
{%- endmacro %}

{% macro default__rebuilds_every_model() -%}
    {{ return(false) }}
{%- endmacro %}

{% macro spark__rebuilds_every_model() -%}
    {{ return(true) }}
{%- endmacro %}


{#- An incremental model is a table on Spark: built whole, replacing the last build's. -#}
{% materialization incremental, adapter='spark' -%}
    {{ return(materialization_table_spark()) }}
{%- endmaterialization %}


{#- The build state as the other engines keep it, statement by statement: dbt-spark runs one
    statement per call, and Spark has no transactions. -#}
{% macro spark__create_build_state() -%}
    {%- if execute -%}
        {%- do run_query('create database if not exists intermediate') -%}
        {%- do run_query(
            'create table if not exists ' ~ build_state_relation()
            ~ ' (unit string, loaded_at timestamp) using parquet'
        ) -%}
    {%- endif -%}
{%- endmacro %}

{#- The next state is written beside the last one and renamed over it: a Parquet table cannot
    be overwritten by a query that reads it. -#}
{% macro spark__record_build_state(results) -%}
    {%- if execute and all_models_built(results) -%}
        {%- set state = build_state_relation() | trim -%}
        {%- do run_query('drop table if exists ' ~ state ~ '_next') -%}
        {%- do run_query(
            'create table ' ~ state ~ '_next using parquet as '
            ~ "select 'previous_build:' || substr(unit, 7) as unit, loaded_at from " ~ state
            ~ " where unit like 'build:%' union all "
            ~ build_state_rows()
        ) -%}
        {%- do run_query('drop table ' ~ state) -%}
        {%- do run_query('alter table ' ~ state ~ '_next rename to ' ~ state) -%}
    {%- endif -%}
{%- endmacro %}


{#-
    The JSON functions of cross_database.sql. Spark reads JSON text with get_json_object (a
    path per call; objects and arrays come back as JSON text) and from_json, which keeps an
    object or array inside a string-typed value as its JSON text.
-#}
{% macro spark__json_texts(json_expr, paths) -%}
    array(
        {%- for path in paths %}
        get_json_object({{ json_expr }}, "{{ spark__json_path(path) }}")
        {{- ', ' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- Spark's arrays are 0-based. -#}
{% macro spark__json_list_item(list_expr, index) -%}
    ({{ list_expr }})[{{ index }}]
{%- endmacro %}

{% macro spark__json_text_at_key(json_expr, key_expr) -%}
    from_json({{ json_expr }}, 'map<string,string>')[{{ key_expr }}]
{%- endmacro %}

{#- An array's elements by position, or an object's ('0', '1', ... where a form-encoded list
    became an object) by key, as DuckDB's json_each walks both. -#}
{% macro spark__json_array_elements(json_expr) -%}
    lateral inline(
        case
            when trim({{ json_expr }}) like '[%' then transform(
                from_json({{ json_expr }}, 'array<string>'),
                (element, position) -> struct(position as element_index, element as element)
            )
            else transform(
                map_entries(from_json({{ json_expr }}, 'map<string,string>')),
                entry -> struct(cast(entry.key as int) as element_index, entry.value as element)
            )
        end
    )
{%- endmacro %}

{#- Every key in brackets, so ids with dashes ('product-12') are safe steps; '$' is the root. -#}
{% macro spark__json_path(path) -%}
    ${% for key in path.split('.') if key %}['{{ key }}']{% endfor %}
{%- endmacro %}


{#- The other way round from Spark's own pair: `to_utc_timestamp` reads a local time on a clock,
    `from_utc_timestamp` writes it on another. -#}
{% macro spark__convert_timezone(expr, from_tz, to_tz) -%}
    from_utc_timestamp(to_utc_timestamp({{ expr }}, '{{ from_tz }}'), '{{ to_tz }}')
{%- endmacro %}


{#- Spark divides decimals to 6 decimals at most (rounding there first), so, as on DuckDB, the
    division is of whole units of the last decimal, in integers (`div` truncates). -#}
{% macro spark__rounded_quotient(number, count, scale) -%}
    cast(
        (case when ({{ number }}) < 0 then -1 else 1 end)
        * ((abs(cast(({{ number }}) * {{ 10 ** scale }} as decimal(38, 0))) * 2 + ({{ count }}))
            div nullif(2 * ({{ count }}), 0))
        * {{ '1' if scale == 0 else '0.' ~ '0' * (scale - 1) ~ '1' }}
        as decimal(18, {{ scale }})
    )
{%- endmacro %}

{% macro spark__convert_money(amount, rate_to, rate_from) -%}
    {%- set scaled_from = 'cast((' ~ rate_from ~ ') * 100000000 as decimal(38, 0))' -%}
    cast(
        (case when ({{ amount }}) < 0 then -1 else 1 end)
        * ((abs(cast(({{ amount }}) * 100 as decimal(38, 0)))
            * cast(({{ rate_to }}) * 100000000 as decimal(38, 0)) * 2 + {{ scaled_from }})
            div (2 * {{ scaled_from }}))
        * 0.01
        as decimal(18, 2)
    )
{%- endmacro %}


{#- Spark's median() is a double; this one is the exact mean of the middle values, of the
    column's own type, from the sorted values. -#}
{% macro spark__median(expr) -%}
    {%- set sorted = 'array_sort(collect_list(' ~ expr ~ '))' -%}
    case when count({{ expr }}) > 0 then (
        element_at({{ sorted }}, cast(floor((count({{ expr }}) + 1) / 2) as int))
        + element_at({{ sorted }}, cast(floor(count({{ expr }}) / 2) + 1 as int))
    ) / 2 end
{%- endmacro %}


{#- to_timestamp gives NULL for a name without a stamp, or with a day or time that is none. -#}
{% macro spark__export_stamp(path_expr) -%}
    to_timestamp(
        regexp_extract({{ path_expr }}, '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}_[0-9]{2}_[0-9]{2}', 0),
        'yyyy-MM-dd HH_mm_ss'
    )
{%- endmacro %}


{#- collect_list skips nulls: they are counted and put back at the end, where an ascending
    order puts them on the other engines (a NULL of the values' type: min() over no value). -#}
{% macro spark__sorted_array_agg(expr) -%}
    concat(
        array_sort(collect_list({{ expr }})),
        array_repeat(
            min(case when false then {{ expr }} end),
            cast(count(*) - count({{ expr }}) as int)
        )
    )
{%- endmacro %}


{% macro spark__epoch_microseconds(expr) -%}
    unix_micros({{ expr }})
{%- endmacro %}


{#- Spark's string literals take no doubled quote ('it''s' is 'it' 's', that is "its"). -#}
{% macro spark__quote_literal() -%}
    "'"
{%- endmacro %}


{#- A contract's column types are written as DuckDB and PostgreSQL name them; Spark spells
    text `string` and a list `array<…>`. The contract check compares Spark's types of the
    model's SQL with these, translated. -#}
{% macro spark__get_empty_schema_sql(columns) -%}
    {%- set translated = {} -%}
    {%- for name in columns -%}
        {%- set column = fromjson(tojson(columns[name])) -%}
        {%- do column.update({'data_type': _spark_type(column['data_type'])}) -%}
        {%- do translated.update({name: column}) -%}
    {%- endfor -%}
    {{ return(dbt.default__get_empty_schema_sql(translated)) }}
{%- endmacro %}

{% macro _spark_type(data_type) -%}
    {%- set name = data_type | trim | lower -%}
    {%- if name.endswith('[]') -%}
        {{ return('array<' ~ _spark_type(name[:-2]) ~ '>') }}
    {%- endif -%}
    {{ return({'varchar': 'string', 'text': 'string'}.get(name, name)) }}
{%- endmacro %}


{#- A unit test's fixture writes a list as DuckDB prints one ("['101', '102']"), which dbt-spark
    would cast as SQL; read as the JSON array it also is (its quotes made double), the same
    fixture serves every engine. Every other cast is dbt-spark's own. -#}
{% macro spark__safe_cast(field, type) -%}
    {%- if (type | trim | lower).startswith('array<') and field is string
            and field.startswith("'[") -%}
        from_json({{ field | replace("\\'", '"') }}, '{{ type }}')
    {%- else -%}
        {{ dbt.spark__safe_cast(field, type) }}
    {%- endif -%}
{%- endmacro %}
