-- One row: what this build recomputes (macros/incremental.sql). Everything when
-- int_build_units says so, or when the sole live ThriveCart account changed (export rows of
-- orders no webhook saw are that account's, in every order); else the changed orders.
with units as (

    select bool_or(rebuild_all) as rebuild_all
    from {{ ref('int_build_units') }}

),

accounts as (

    -- With one ThriveCart account, an export row of an order no webhook saw is that account's.
    -- In one account's pipeline (LTV_ACCOUNTS) everything it loads is that account's. The ref
    -- stays in both cases: the asset graph, parsed once, orders the models by it.
    select
        {% if var('ltv_account', '') -%}
        '{{ var("ltv_account") }}'
        {%- else -%}
        max(account)
        {%- endif %} as sole_account
    from {{ ref('int_webhook_movements') }}
    where not is_test and order_id is not null
    having {% if var('ltv_account', '') %}true{% else %}count(distinct account) = 1{% endif %}

),

current_scope as (

    select
        accounts.sole_account,
        'sole_account:' || coalesce(accounts.sole_account, '') as sole_account_unit,
        coalesce(units.rebuild_all, true) as units_rebuild_all
    from units
    left join accounts
        on true

)

select
    current_scope.units_rebuild_all
    or not exists (
        select 1
        from {{ build_state_relation() }} as remembered
        where remembered.unit = current_scope.sole_account_unit
    ) as rebuild_all,
    '{{ invocation_id }}' as build_id,
    current_scope.sole_account,
    current_scope.sole_account_unit
from current_scope
