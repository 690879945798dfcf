{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_orders('order_id')) }}",
) }}
-- The payment rules index (models/docs.md, doc block `payment_rules`) lists every rule,
-- where it lives and the test that pins it.
-- Dedupe rule 2: one row per CSV money movement, however many overlapping exports hold it.
-- Two identical rows inside one export are two movements (e.g. two equal partial refunds of
-- one item, which the export dates alike), so a row's k-th occurrence within a file is the
-- same movement as its k-th occurrence in any other file. The newest export's copy wins, for
-- its names and emails are the most current.
-- Incremental: an order's rows are ranked again when the build recomputes it
-- (macros/incremental.sql); two copies of a movement always share its order.
with csv_movements as (

    select * from {{ ref('int_money_movements_unioned') }}
    where source = 'csv' and {{ in_changed_orders('order_id') }}

),

export_clocks as (

    select * from {{ ref('int_export_clocks') }}

),

occurrences as (

    -- Ranked on the keys alone: the wide rows join back once a copy is chosen.
    select
        csv_movements.movement_id,
        csv_movements.natural_key,
        csv_movements.file_sha256,
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

copies_ranked as (

    select
        movement_id,
        natural_key || '#' || cast(occurrence as {{ dbt.type_string() }}) as csv_key,
        row_number() over (
            partition by natural_key, occurrence
            order by export_latest_at desc nulls last, file_sha256 desc nulls last
        ) as export_rank,
        count(*) over (partition by natural_key, occurrence) as copies_seen
    from occurrences

)

select
    csv_movements.movement_id,
    copies_ranked.csv_key,
    copies_ranked.copies_seen,
    csv_movements.payment_type,
    csv_movements.order_id,
    csv_movements.item_type,
    csv_movements.item_id,
    csv_movements.item_name,
    csv_movements.subscription_id,
    csv_movements.amount,
    csv_movements.tax_amount,
    csv_movements.currency,
    csv_movements.paid_at,
    csv_movements.is_dated_by_order,
    csv_movements.processor_charge_id,
    csv_movements.email,
    csv_movements.first_name,
    csv_movements.last_name,
    csv_movements.country,
    csv_movements.campaign_id,
    csv_movements.affiliate_id,
    csv_movements.coupon,
    csv_movements.processor,
    csv_movements.file_sha256,
    csv_movements.file_row_number

from copies_ranked
inner join csv_movements
    on copies_ranked.movement_id = csv_movements.movement_id
where copies_ranked.export_rank = 1
