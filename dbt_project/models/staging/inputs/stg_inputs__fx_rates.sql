-- One rate per (day, base, currency): where files repeat one, the file loaded last counts.
with ranked as (

    select
        rate_date,
        base,
        currency,
        rate,
        row_number() over (
            partition by rate_date, base, currency
            order by
                _loaded_at desc nulls last, _file_path desc nulls last,
                _row_number desc nulls last
        ) as file_rank
    from {{ source('inputs', 'fx_rates') }}
    where rate > 0

)

select rate_date, base, currency, rate
from ranked
where file_rank = 1
