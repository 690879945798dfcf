-- The customers (normalised emails) this build recomputes (macros/incremental.sql): every
-- email on any row, old or new, of a recomputed order (a superset of the emails its payments
-- had before and have now), on a cancellation or failed rebill of a changed webhook day, or
-- in a changed Subscriptions export; and any customer whose count of active subscriptions
-- moved. Empty when the build recomputes everything: the filters then keep every row.
{%- set customers_before = adapter.get_relation(
    database=target.database, schema='marts', identifier='dim_customers') %}
{%- set subscriptions = ref('dim_subscriptions') %}
-- depends_on: {{ ref('int_changed_orders') }}, {{ ref('int_money_movements_unioned') }}
-- depends_on: {{ ref('int_webhook_movements') }}, {{ ref('int_build_units') }}
-- depends_on: {{ ref('stg_thrivecart__webhook_cancellations') }}
-- depends_on: {{ ref('stg_thrivecart__webhook_failed_rebills') }}
-- depends_on: {{ ref('stg_thrivecart__subscriptions') }}
{%- if rebuilds_all() %}
select cast(null as {{ dbt.type_string() }}) as email
where false
{%- else %}

with changed_files as (

    select unit_key as file_sha256
    from {{ ref('int_build_units') }}
    where kind = 'csv' and is_changed

),

emails as (

    select email
    from {{ ref('int_money_movements_unioned') }}
    where source = 'csv' and {{ in_changed_orders('order_id') }}

    union all

    select email
    from {{ ref('int_webhook_movements') }}
    where {{ in_changed_orders('order_id') }}

    union all

    select email
    from {{ ref('stg_thrivecart__webhook_cancellations') }}
    where {{ in_changed_units('segment_day', 'webhook') }}

    union all

    select email
    from {{ ref('stg_thrivecart__webhook_failed_rebills') }}
    where {{ in_changed_units('segment_day', 'webhook') }}

    union all

    select email
    from {{ ref('stg_thrivecart__subscriptions') }}
    where file_sha256 in (select file_sha256 from changed_files)

    {%- if customers_before is not none %}

    union all

    -- A subscription can change hands (its email comes from the newest source that names
    -- one): compare the counts the last build kept with the current ones.
    select coalesce(before.email, now.email)
    from {{ customers_before }} as before
    full outer join (
        select email, currency, count(*) as active_subscriptions
        from {{ subscriptions }}
        where status = 'active'
        group by email, currency
    ) as now
        on before.email = now.email
        and before.currency = now.currency
    where coalesce(before.active_subscriptions, 0) <> coalesce(now.active_subscriptions, 0)
    {%- endif %}

)

select distinct email
from emails
where email is not null
{%- endif %}
