-- Spend per (account, day, channel, campaign, currency). A re-export of an overlapping period
-- repeats days: for each such key the file loaded last counts, and its rows for the key add up
-- (a report can split one campaign's day over several rows).
with per_file as (

    select
        account,
        spend_date,
        channel,
        campaign,
        currency,
        _file_sha256 as file_sha256,
        max(_loaded_at) as loaded_at,
        max(_file_path) as file_path,
        sum(spend) as spend
    from {{ source('inputs', 'ad_spend') }}
    group by account, spend_date, channel, campaign, currency, _file_sha256

),

ranked as (

    select
        *,
        row_number() over (
            partition by account, spend_date, channel, campaign, currency
            order by loaded_at desc nulls last, file_path desc nulls last
        ) as file_rank
    from per_file

)

select account, spend_date, channel, campaign, currency, spend, file_path
from ranked
where file_rank = 1
