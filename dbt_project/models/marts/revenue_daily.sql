-- One row per (currency, local date) from the currency's first payment to as_of's date, days
-- without payments included, so a chart of it has no gaps.
with payments as (

    select * from {{ ref('fct_payments') }}

),

as_of as (

    select as_of_date from {{ ref('int_as_of_computed') }}

),

currency_ranges as (

    select currency, min(paid_date) as first_date
    from payments
    group by currency

),

day_numbers as (

    -- A century of days is more history than any seller has.
    select generated_number - 1 as day_offset
    from ({{ dbt.generate_series(36600) }}) as series

),

calendar as (

    select
        currency_ranges.currency,
        cast(
            {{ dbt.dateadd('day', 'day_numbers.day_offset', 'currency_ranges.first_date') }} as date
        ) as revenue_date
    from currency_ranges
    cross join as_of
    inner join day_numbers
        on day_numbers.day_offset
        <= {{ dbt.datediff('currency_ranges.first_date', 'as_of.as_of_date', 'day') }}

),

daily as (

    select
        currency,
        paid_date,
        sum(case when payment_type in ('charge', 'rebill') then amount else 0 end)
            as gross_revenue,
        -sum(case when payment_type = 'refund' then amount else 0 end) as refunds,
        sum(amount) as net_revenue,
        sum(case when payment_type = 'charge' then 1 else 0 end) as charges_count,
        sum(case when payment_type = 'rebill' then 1 else 0 end) as rebills_count,
        sum(case when payment_type = 'refund' then 1 else 0 end) as refunds_count
    from payments
    group by currency, paid_date

),

acquisitions as (

    select currency, first_paid_date, count(*) as new_customers
    from {{ ref('dim_customers') }}
    where first_paid_date is not null
    group by currency, first_paid_date

)

select
    calendar.currency,
    calendar.revenue_date as date,
    cast(coalesce(daily.gross_revenue, 0) as decimal(18, 2)) as gross_revenue,
    cast(coalesce(daily.refunds, 0) as decimal(18, 2)) as refunds,
    cast(coalesce(daily.net_revenue, 0) as decimal(18, 2)) as net_revenue,
    cast(coalesce(daily.charges_count, 0) as integer) as charges_count,
    cast(coalesce(daily.rebills_count, 0) as integer) as rebills_count,
    cast(coalesce(daily.refunds_count, 0) as integer) as refunds_count,
    cast(coalesce(acquisitions.new_customers, 0) as integer) as new_customers

from calendar
left join daily
    on calendar.currency = daily.currency
    and calendar.revenue_date = daily.paid_date
left join acquisitions
    on calendar.currency = acquisitions.currency
    and calendar.revenue_date = acquisitions.first_paid_date
