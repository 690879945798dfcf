-- One fee rule per (account, processor, currency, valid_from), in force until the next
-- valid_from of the same account, processor and currency. Where files repeat a rule, the file
-- loaded last counts (a corrected file replaces the old one), and within a file its last row.
with ranked as (

    select
        account,
        processor,
        currency,
        valid_from,
        fee_percent,
        fee_fixed,
        _file_path as file_path,
        row_number() over (
            partition by account, processor, currency, valid_from
            order by _loaded_at desc, _file_path desc, _row_number desc
        ) as file_rank
    from {{ source('inputs', 'processor_fees') }}

)

select
    account,
    processor,
    currency,
    valid_from,
    lead(valid_from) over (
        partition by account, processor, currency order by valid_from
    ) as valid_until,
    fee_percent,
    fee_fixed,
    file_path
from ranked
where file_rank = 1
