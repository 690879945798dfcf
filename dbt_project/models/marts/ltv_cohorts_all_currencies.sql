-- Cohort LTV in LTV_REPORTING_CURRENCY across every currency: one row per (cohort month,
-- months since acquisition), adding up ltv_cohorts_monthly's converted columns. A customer is
-- one email in one currency, as everywhere in the marts, so someone who paid in two currencies
-- counts in both. Empty without a reporting currency (docs/costs.md).
{%- set reporting = var('reporting_currency') %}
with totals as (

    select
        cohort_month,
        months_since_acquisition,
        min(activity_month) as activity_month,
        sum(cohort_customers) as cohort_customers,
        sum(net_revenue_reporting) as net_revenue,
        sum(cumulative_net_revenue_reporting) as cumulative_net_revenue,
        sum(net_margin_reporting) as net_margin,
        sum(cumulative_margin_reporting) as cumulative_margin,
        min(case when is_complete then 1 else 0 end) = 1 as is_complete
    from {{ ref('ltv_cohorts_monthly') }}
    where {{ 'true' if reporting else 'false' }}
    group by cohort_month, months_since_acquisition

)

select
    cast('{{ reporting }}' as {{ dbt.type_string() }}) as reporting_currency,
    cohort_month,
    cast(months_since_acquisition as integer) as months_since_acquisition,
    activity_month,
    cast(cohort_customers as integer) as cohort_customers,
    cast(net_revenue as decimal(18, 2)) as net_revenue,
    cast(cumulative_net_revenue as decimal(18, 2)) as cumulative_net_revenue,
    {{ money_per('cumulative_net_revenue', 'cohort_customers') }} as ltv_per_customer,
    cast(net_margin as decimal(18, 2)) as net_margin,
    cast(cumulative_margin as decimal(18, 2)) as cumulative_margin,
    {{ money_per('cumulative_margin', 'cohort_customers') }} as margin_ltv_per_customer,
    is_complete
from totals
