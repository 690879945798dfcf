-- The subscriptions this build recomputes (macros/incremental.sql): every subscription named
-- by a row, old or new, of a recomputed order (its payments, its webhooks, its export rows),
-- by a cancellation of a changed webhook day, or by a changed Subscriptions export. Empty when
-- the build recomputes everything: the filters then keep every row.
-- depends_on: {{ ref('int_changed_orders') }}, {{ ref('int_build_units') }}
-- depends_on: {{ ref('int_payments_deduplicated') }}, {{ ref('int_webhook_movements') }}
-- depends_on: {{ ref('stg_thrivecart__transactions') }}
-- depends_on: {{ ref('stg_thrivecart__webhook_cancellations') }}
-- depends_on: {{ ref('stg_thrivecart__subscriptions') }}
{%- if rebuilds_all() %}
select cast(null as {{ dbt.type_string() }}) as subscription_id
where false
{%- else %}
with named as (

    select subscription_id
    from {{ ref('int_payments_deduplicated') }}
    where {{ in_changed_orders('order_id') }}

    union all

    select subscription_id
    from {{ ref('int_webhook_movements') }}
    where {{ in_changed_orders('order_id') }}

    union all

    -- Export rows of every kind: cancel rows name subscriptions too.
    select subscription_id
    from {{ ref('stg_thrivecart__transactions') }}
    where {{ in_changed_orders('order_id') }}

    union all

    select subscription_id
    from {{ ref('stg_thrivecart__webhook_cancellations') }}
    where {{ in_changed_units('segment_day', 'webhook') }}

    union all

    select subscription_id
    from {{ ref('stg_thrivecart__subscriptions') }}
    where {{ in_changed_units('file_sha256', 'csv') }}

)

select distinct subscription_id
from named
where subscription_id is not null
{%- endif %}
