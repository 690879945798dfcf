-- One row describing the marts: the as_of they are computed at, the settings they were built
-- with, and how much of the input was set aside (unknown export events, test mode), so a
-- report can say "data as of …" and an analyst can see what was not counted; and which build
-- made them and what it recomputed (docs/incremental.md).
with as_of as (

    select * from {{ ref('int_as_of_computed') }}

),

export_rows as (

    select
        cast(count(*) as integer) as csv_rows,
        cast(coalesce(sum(case when event_type = 'unknown' then 1 else 0 end), 0) as integer)
            as csv_unknown_event_rows
    from {{ ref('stg_thrivecart__transactions') }}

),

deliveries as (

    select
        cast(count(*) as integer) as webhook_deliveries,
        cast(coalesce(sum(case when is_test then 1 else 0 end), 0) as integer)
            as webhook_test_deliveries,
        cast(coalesce(sum(case when event_family = 'other' then 1 else 0 end), 0) as integer)
            as webhook_other_deliveries
    from {{ ref('stg_thrivecart__webhook_events') }}

),

scope as (

    select
        build_id,
        rebuild_all,
        (select count(*) from {{ ref('int_changed_orders') }}) as recomputed_orders,
        (select count(*) from {{ ref('int_changed_customers') }}) as recomputed_customers
    from {{ ref('int_build_scope') }}

),

payments as (

    select
        cast(count(*) as integer) as payments,
        cast(count(distinct customer_id) as integer) as customers,
        -- Charges and rebills above zero that no fee or cost rule covers (docs/costs.md).
        cast(coalesce(sum(case
            when payment_type in ('charge', 'rebill') and amount > 0 and processor_fee is null
                then 1 else 0
        end), 0) as integer) as payments_without_fee_rule,
        cast(coalesce(sum(case
            when payment_type in ('charge', 'rebill') and amount > 0 and product_cost is null
                then 1 else 0
        end), 0) as integer) as payments_without_cost_rule,
        cast(coalesce(sum(case
            when fx_rate_date < paid_date then 1 else 0
        end), 0) as integer) as payments_converted_at_earlier_rate,
        cast(coalesce(sum(case
            when '{{ var("reporting_currency") }}' <> ''
                and currency <> '{{ var("reporting_currency") }}'
                and amount_reporting is null
                then 1 else 0
        end), 0) as integer) as payments_not_converted
    from {{ ref('fct_payments') }}

),

cost_rules as (

    select
        (select count(*) from {{ ref('stg_inputs__processor_fees') }}) as processor_fee_rules,
        (select count(*) from {{ ref('stg_inputs__product_costs') }}) as product_cost_rules,
        -- Spend without an account cannot be placed once customers are in several accounts
        -- (cac_cohorts).
        (
            select count(*)
            from {{ ref('stg_inputs__ad_spend') }}
            where account = ''
                and (
                    select count(distinct account)
                    from {{ ref('int_customer_orders_ranked') }}
                ) > 1
        ) as ad_spend_rows_unassigned

)

select
    as_of.as_of,
    as_of.as_of_date,
    '{{ var("ltv_timezone") }}' as reporting_timezone,
    '{{ var("csv_timezone") }}' as csv_timezone,
    {{ var('match_tolerance_minutes') | int }} as match_tolerance_minutes,
    '{{ var("day_n") | join(",") }}' as day_n,
    {{ var('delinquency_days') | int }} as delinquency_days,
    payments.payments,
    payments.customers,
    export_rows.csv_rows,
    export_rows.csv_unknown_event_rows,
    deliveries.webhook_deliveries,
    deliveries.webhook_test_deliveries,
    deliveries.webhook_other_deliveries,
    scope.build_id,
    scope.rebuild_all as rebuilt_all,
    cast(scope.recomputed_orders as integer) as recomputed_orders,
    cast(scope.recomputed_customers as integer) as recomputed_customers,
    case
        when cost_rules.processor_fee_rules > 0 and cost_rules.product_cost_rules > 0
            then 'revenue less processor fees and product costs'
        when cost_rules.processor_fee_rules > 0 then 'revenue less processor fees'
        when cost_rules.product_cost_rules > 0 then 'revenue less product costs'
        else 'revenue only: no cost files in landing/costs/'
    end as margin_basis,
    cast(cost_rules.processor_fee_rules as integer) as processor_fee_rules,
    cast(cost_rules.product_cost_rules as integer) as product_cost_rules,
    payments.payments_without_fee_rule,
    payments.payments_without_cost_rule,
    cast(nullif('{{ var("reporting_currency") }}', '') as {{ dbt.type_string() }})
        as reporting_currency,
    cast((select count(*) from {{ ref('stg_inputs__fx_rates') }}) as integer) as fx_rates,
    payments.payments_converted_at_earlier_rate,
    payments.payments_not_converted,
    cast(cost_rules.ad_spend_rows_unassigned as integer) as ad_spend_rows_unassigned

from as_of
cross join export_rows
cross join deliveries
cross join payments
cross join scope
cross join cost_rules
