-- Dedupe rule 2: one row per CSV money movement, however many overlapping exports hold it.
-- Two identical rows inside one export are two movements (e.g. two equal partial refunds of
-- one item, which the export dates alike), so a row's k-th occurrence within a file is the
-- same movement as its k-th occurrence in any other file. The newest export's copy wins, for
-- its names and emails are the most current.
with csv_movements as (

    select * from {{ ref('int_money_movements_unioned') }}
    where source = 'csv'

),

export_clocks as (

    -- An export's age is the latest row it holds; its file name and load time say nothing
    -- dependable (files are renamed, and may be loaded in any order).
    select
        file_sha256,
        max(ordered_at) as export_latest_at
    from {{ ref('stg_thrivecart__transactions') }}
    group by file_sha256

),

occurrences as (

    select
        csv_movements.*,
        export_clocks.export_latest_at,
        -- dense_rank: a file loaded twice repeats its (file, row) pairs, not its movements.
        dense_rank() over (
            partition by csv_movements.natural_key, csv_movements.file_sha256
            order by csv_movements.file_row_number
        ) as occurrence
    from csv_movements
    inner join export_clocks
        on csv_movements.file_sha256 = export_clocks.file_sha256

),

ranked as (

    select
        *,
        row_number() over (
            partition by natural_key, occurrence
            order by export_latest_at desc, file_sha256 desc
        ) as export_rank,
        count(*) over (partition by natural_key, occurrence) as copies_seen
    from occurrences

)

select
    movement_id,
    natural_key || '#' || cast(occurrence as {{ dbt.type_string() }}) as csv_key,
    copies_seen,
    payment_type,
    order_id,
    item_type,
    item_id,
    item_name,
    subscription_id,
    amount,
    tax_amount,
    currency,
    paid_at,
    is_dated_by_order,
    processor_charge_id,
    email,
    first_name,
    last_name,
    country,
    campaign_id,
    affiliate_id,
    coupon,
    processor,
    file_sha256,
    file_row_number

from ranked
where export_rank = 1
