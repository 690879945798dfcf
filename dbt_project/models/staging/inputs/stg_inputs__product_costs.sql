-- One product cost rule per (account, item type, product, currency, valid_from), in force until
-- the next valid_from of the same key. Repeated rules: the file loaded last, its last row.
with ranked as (

    select
        account,
        item_type,
        product_id,
        currency,
        valid_from,
        cost_per_sale,
        _file_path as file_path,
        row_number() over (
            partition by account, item_type, product_id, currency, valid_from
            order by _loaded_at desc, _file_path desc, _row_number desc
        ) as file_rank
    from {{ source('inputs', 'product_costs') }}

)

select
    account,
    item_type,
    product_id,
    currency,
    valid_from,
    lead(valid_from) over (
        partition by account, item_type, product_id, currency order by valid_from
    ) as valid_until,
    cost_per_sale,
    file_path
from ranked
where file_rank = 1
