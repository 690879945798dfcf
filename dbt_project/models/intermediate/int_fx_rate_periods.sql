-- Each exchange rate with the days it stands for: from its date until the next rate of the
-- same base and currency (a weekend or holiday takes the latest earlier rate, docs/costs.md).
-- A base quotes itself at 1, so a payment in the base currency needs no rate of its own.
with rates as (

    select rate_date, base, currency, rate
    from {{ ref('stg_inputs__fx_rates') }}
    union all
    select distinct rate_date, base, base, cast(1 as decimal(18, 8))
    from {{ ref('stg_inputs__fx_rates') }}

)

select
    base,
    currency,
    rate,
    rate_date,
    lead(rate_date) over (partition by base, currency order by rate_date) as next_rate_date
from rates
