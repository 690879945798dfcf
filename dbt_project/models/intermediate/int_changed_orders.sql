-- The orders this build recomputes (macros/incremental.sql): every order with a row in a
-- landing file or webhook day loaded since the last complete build (any event of it). `order_key` is the order
-- id, '' for rows without one. Empty when the build recomputes everything: the filters then
-- keep every row.
-- depends_on: {{ ref('stg_thrivecart__transactions') }}
-- depends_on: {{ ref('stg_thrivecart__webhook_cancellations') }}
-- depends_on: {{ ref('stg_thrivecart__webhook_failed_rebills') }}
{%- set units = ref('int_build_units') %}
{%- set movements = ref('int_webhook_movements') %}
{%- if rebuilds_all() %}
select cast(null as {{ dbt.type_string() }}) as order_key
where false
{%- else %}
select distinct coalesce(order_id, '') as order_key
from {{ ref('stg_thrivecart__transactions') }}
where file_sha256 in (
    select unit_key from {{ units }} where kind = 'csv' and is_changed
)

union

select order_key
from {{ movements }}
where {{ in_changed_units('segment_day', 'webhook') }}

union

-- Cancellations and failed rebills move no money, but their order's subscriptions change.
select coalesce(order_id, '')
from {{ ref('stg_thrivecart__webhook_cancellations') }}
where {{ in_changed_units('segment_day', 'webhook') }}

union

select coalesce(order_id, '')
from {{ ref('stg_thrivecart__webhook_failed_rebills') }}
where {{ in_changed_units('segment_day', 'webhook') }}
{%- endif %}
