{#- Incremental builds: what changed since the last complete build, and how the incremental
    models replace exactly that part. docs/incremental.md says why it is correct; in short:

    - A *load unit* is one loaded landing file (by SHA-256) or one webhook day, with the time
      it was loaded. `ltv_build_state` holds the units the last complete build reflected.
    - A unit that is new or was loaded again is *changed*. The orders its rows belong to are
      recomputed, each from all of its rows in every source (a match never crosses orders),
      and so are the customers any row of those orders names.
    - Anything that cannot be pinned to orders rebuilds everything in the same models: a unit
      that is gone (a forgotten file), other settings, another sole ThriveCart account, no
      state yet, or `--full-refresh`.
    - The state moves on only when every model of the project built (on-run-end), so a failed
      or partial build is redone, never half remembered. -#}

{% macro build_state_relation() -%}
    {{ schema_in_target_database('intermediate') }}.ltv_build_state
{%- endmacro %}


{#- on-run-start: the state table exists before any model reads it. -#}
{% macro create_build_state() -%}
    {{ return(adapter.dispatch('create_build_state', 'thrivecart_ltv')()) }}
{%- endmacro %}

{% macro default__create_build_state() -%}
    create schema if not exists {{ schema_in_target_database('intermediate') }};
    create table if not exists {{ build_state_relation() }} (
        unit {{ dbt.type_string() }} not null,
        loaded_at {{ dbt.type_timestamp() }}
    );
{%- endmacro %}


{#- on-run-end: remember the units of this build, if every model of the project built. -#}
{% macro record_build_state(results) -%}
    {{ return(adapter.dispatch('record_build_state', 'thrivecart_ltv')(results)) }}
{%- endmacro %}

{% macro default__record_build_state(results) -%}
    {%- if execute and all_models_built(results) -%}
        begin transaction;
        delete from {{ build_state_relation() }} where unit not like 'build:%';
        -- The build before this one, which publishing needs to patch its snapshot.
        update {{ build_state_relation() }}
        set unit = 'previous_build:' || substr(unit, 7)
        where unit like 'build:%';
        insert into {{ build_state_relation() }} (unit, loaded_at)
        {{ build_state_rows() }};
        commit;
    {%- endif -%}
{%- endmacro %}

{#- True when every model of the project built in this invocation (`results`). -#}
{% macro all_models_built(results) -%}
    {%- set models = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
        | rejectattr('config.materialized', 'equalto', 'ephemeral') | list -%}
    {%- set built = results | selectattr('node.resource_type', 'equalto', 'model')
        | selectattr('status', 'equalto', 'success') | list -%}
    {{ return(built | length == models | length) }}
{%- endmacro %}

{#- The state's rows of this build: its own id, its load units and its sole account. -#}
{% macro build_state_rows() -%}
    {%- set schema = schema_in_target_database('intermediate') | trim ~ '.' -%}
    select 'build:{{ invocation_id }}' as unit, cast(null as {{ dbt.type_timestamp() }}) as loaded_at
    union all
    select unit, loaded_at from {{ schema }}int_build_units
    union all
    select sole_account_unit, cast(null as {{ dbt.type_timestamp() }})
    from {{ schema }}int_build_scope
{%- endmacro %}


{#- True when this build recomputes everything (first or full build, a unit gone, other
    settings or another sole account), as `scope` (int_build_scope, or int_build_units for
    the models before it) says while the calling model compiles. While parsing nothing can be
    read: the refs then only record the dependencies. -#}
{% macro rebuilds_all(scope='int_build_scope') -%}
    {#- A unit test gives a model its inputs whole, and only those it names. -#}
    {%- if model.resource_type == 'unit_test' -%}{{ return(true) }}{%- endif -%}
    {%- if rebuilds_every_model() -%}{{ return(true) }}{%- endif -%}
    {%- set relation = ref(scope) -%}
    {%- if not execute or load_relation(relation) is none -%}{{ return(true) }}{%- endif -%}
    {%- set verdict = run_query('select bool_or(rebuild_all) from ' ~ relation) -%}
    {{ return(verdict.columns[0].values()[0] in (none, true)) }}
{%- endmacro %}


{#- A filter keeping the rows whose `expression` is a key (`key` column) of `model`, one of the
    int_changed_* models: `true` when the build recomputes everything, so a full build reads
    its inputs whole. -#}
{% macro in_changed(model, key, expression) -%}
    {%- if not execute %}{% do ref(model) %}{% endif -%}
    {%- if rebuilds_all() -%}
        true
    {%- else -%}
        {{ expression }} in {{ changed_keys(model, key) }}
    {%- endif -%}
{%- endmacro %}


{#- The rows of the orders this build recomputes ('' stands for rows without an order). -#}
{% macro in_changed_orders(order_id) -%}
    {{ in_changed('int_changed_orders', 'order_key', 'coalesce(' ~ order_id ~ ", '')") }}
{%- endmacro %}


{#- The rows of the subscriptions this build recomputes. -#}
{% macro in_changed_subscriptions(subscription_id) -%}
    {{ in_changed('int_changed_subscriptions', 'subscription_id', subscription_id) }}
{%- endmacro %}


{#- The rows of the customers (normalised emails) this build recomputes. -#}
{% macro in_changed_customers(email) -%}
    {{ in_changed('int_changed_customers', 'email', email) }}
{%- endmacro %}


{#- The keys of `model` (an int_changed_* model) as a list for `in`: up
    to a few thousand as constants, which DuckDB tests at the scan, before a view computes
    anything else for a row (through a subquery it cleaned every export row first: 1.7 s
    instead of 0.1 s at 1M rows); beyond that, the subquery. -#}
{% macro changed_keys(model, column, most=5000) -%}
    {%- set relation = ref(model) -%}
    {%- set keys = run_query(
        'select ' ~ column ~ ' from ' ~ relation ~ ' order by 1 limit ' ~ (most + 1)
    ).columns[0].values() -%}
    {%- if keys | length > most -%}
        (select {{ column }} from {{ relation }})
    {%- elif keys | length == 0 -%}
        (null)
    {%- else -%}
        ({%- for key in keys %}'{{ key | replace("'", "''") }}'{{ ', ' if not loop.last }}{% endfor -%})
    {%- endif -%}
{%- endmacro %}


{#- The same for the load units (`kind` csv: file SHA-256s; webhook: days) loaded since the
    last build: a list of constants, so the filter reaches the raw scan and, for webhooks,
    only those days' payloads are parsed. -#}
{% macro in_changed_units(column, kind) -%}
    {%- if rebuilds_all('int_build_units') -%}
        true
    {%- else -%}
        {%- set changed = "select unit_key from " ~ ref('int_build_units')
            ~ " where kind = '" ~ kind ~ "' and is_changed order by 1" -%}
        {%- set keys = run_query(changed).columns[0].values() -%}
        {%- if keys | length == 0 -%}
            false
        {%- elif kind == 'webhook' -%}
            {{ column }} in (
            {%- for key in keys %}cast('{{ key }}' as date){{ ', ' if not loop.last }}{% endfor -%}
            )
        {%- else -%}
            {{ column }} in ({%- for key in keys %}'{{ key }}'{{ ', ' if not loop.last }}{% endfor -%})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- pre_hook of an incremental model: delete what this build recomputes, in the transaction
    that inserts it again. `filter` is one of the filters above, on the model's own columns. -#}
{% macro delete_recomputed(filter) -%}
    {%- if is_incremental() and not rebuilds_every_model() -%}
        delete from {{ this }} where {{ filter }}
    {%- endif -%}
{%- endmacro %}
