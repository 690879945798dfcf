-- One row per recurring subscription and month end at which it counted, with its MRR then:
-- the monthly amount of its latest payment above zero at that date (docs/marts.md,
-- "Subscription economics"). A month ends on its last day, the month of as_of at as_of's
-- date. The MRR marts add these rows up per subscriber and compare month ends.

with lifecycles as (

    select *
    from {{ ref('int_subscription_lifecycles') }}
    where has_mrr

),

priced as (

    -- Each payment above zero sets the MRR from its date until the next one's, or the end.
    select
        lifecycles.subscription_id,
        lifecycles.account,
        lifecycles.currency,
        lifecycles.customer_id,
        lifecycles.end_date,
        lifecycles.end_reason,
        lifecycles.ended_at,
        payments.paid_date as valid_from,
        lead(payments.paid_date) over (
            partition by payments.subscription_id
            order by payments.paid_at, payments.payment_id
        ) as next_from,
        {{ monthly_amount('payments.amount', 'lifecycles.frequency') }} as mrr
    from lifecycles
    inner join {{ ref('fct_payments') }} as payments
        on lifecycles.subscription_id = payments.subscription_id
        and payments.payment_type in ('charge', 'rebill')
        and payments.amount > 0
        and payments.paid_at >= lifecycles.started_at

),

periods as (

    select
        *,
        case
            when end_date is not null and (next_from is null or end_date < next_from)
                then end_date
            else next_from
        end as valid_to
    from priced

),

month_ends as (

    -- A month ends on its last day; as_of's month at as_of's date.
    select
        months.month,
        case
            when {{ dbt.last_day('months.month', 'month') }} < as_of.as_of_date
                then cast({{ dbt.last_day('months.month', 'month') }} as date)
            else as_of.as_of_date
        end as month_end
    from {{ month_spine(
        "(select cast(" ~ dbt.date_trunc('month', 'min(valid_from)') ~ " as date) from periods)",
        "(select cast(" ~ dbt.date_trunc('month', 'as_of_date') ~ " as date) from "
            ~ ref('int_as_of_computed') ~ ")"
    ) }} as months
    cross join {{ ref('int_as_of_computed') }} as as_of

)

select
    periods.subscription_id,
    periods.account,
    periods.currency,
    periods.customer_id,
    month_ends.month,
    month_ends.month_end,
    periods.mrr,
    periods.end_reason,
    periods.ended_at
from periods
inner join month_ends
    on periods.valid_from <= month_ends.month_end
    and (periods.valid_to is null or periods.valid_to > month_ends.month_end)
