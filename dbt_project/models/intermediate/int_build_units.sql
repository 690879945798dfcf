-- The load units the warehouse holds now (macros/incremental.sql): every loaded landing file
-- and every loaded webhook day, with when it was loaded, and units standing for the values
-- the models read and for the models themselves. `is_changed`: not in the last complete
-- build; `rebuild_all`: this build recomputes everything (first or full build, a unit gone,
-- other settings, an incremental model without its table, an engine that cannot replace part
-- of a table: Spark).
-- The load bookkeeping is read by name, not as a dbt source: it is not data to model. The raw
-- tables it describes are this model's lineage:
-- depends_on: {{ source('thrivecart', 'thrivecart_transactions') }}
-- depends_on: {{ source('thrivecart', 'thrivecart_subscriptions') }}
-- depends_on: {{ source('thrivecart', 'thrivecart_webhook_events') }}
{%- set settings = {
    'ltv_timezone': var('ltv_timezone'), 'csv_timezone': var('csv_timezone'),
    'match_tolerance_minutes': var('match_tolerance_minutes'), 'day_n': var('day_n'),
    'reporting_currency': var('reporting_currency'),
} %}
{#- An incremental model without its table (new, or dropped by hand) cannot be patched. -#}
{%- set missing_tables = [] %}
{%- if execute %}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.config.materialized == 'incremental' %}
        {%- set relation = api.Relation.create(
            database=node.database, schema=node.schema, identifier=node.alias) %}
        {%- if load_relation(relation) is none %}{% do missing_tables.append(node.name) %}{% endif %}
    {%- endfor %}
{%- endif %}

with current_units as (

    -- Cost and exchange-rate files are rules, not rows of orders: one that is new or loaded
    -- again can change the margin or conversion of any payment (docs/costs.md).
    select
        'csv:' || sha256 as unit,
        case
            when max(export) in ('processor_fees', 'product_costs', 'fx_rates') then 'rules'
            else 'csv'
        end as kind,
        sha256 as unit_key,
        max(loaded_at) as loaded_at
    from {{ schema_in_target_database('raw') }}.landing_files
    group by sha256

    union all

    select
        'webhook:' || cast(day as {{ dbt.type_string() }}),
        'webhook',
        cast(day as {{ dbt.type_string() }}),
        max(loaded_at)
    from {{ schema_in_target_database('raw') }}.webhook_segments
    group by day

    union all

    select
        'settings:' || '{{ tojson(settings) | replace("'", "''") }}',
        'settings',
        null,
        cast(null as {{ dbt.type_timestamp() }})

    union all

    -- The models themselves (pipeline/dbt_state.py), as the pipeline passes them.
    select
        'project:' || '{{ var("ltv_project_fingerprint", "") }}',
        'project',
        null,
        cast(null as {{ dbt.type_timestamp() }})

),

remembered as (

    select distinct unit, loaded_at from {{ build_state_relation() }}

),

compared as (

    select
        current_units.*,
        (remembered.unit is null) as is_changed
    from current_units
    -- A join, not `not exists`: Spark 3.5's optimizer fails on that subquery over a union.
    left join remembered
        on remembered.unit = current_units.unit
        and remembered.loaded_at is not distinct from current_units.loaded_at

),

verdict as (

    select
        {{ 'true' if flags.FULL_REFRESH or missing_tables or rebuilds_every_model() else 'false' }}
        or not exists (select 1 from remembered)
        -- A unit gone (a forgotten file) or other settings: its rows cannot be pinned to orders.
        or exists (
            select 1
            from remembered
            where {{ dbt.split_part('remembered.unit', "':'", 1) }}
                in ('csv', 'webhook', 'settings', 'project')
                and remembered.unit not in (select unit from current_units)
        )
        or exists (select 1 from compared where kind = 'rules' and is_changed) as rebuild_all

)

select compared.*, verdict.rebuild_all
from compared
cross join verdict
