{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_orders('order_id')) }}",
) }}
{%- set tolerance_seconds = var('match_tolerance_minutes') | int * 60 %}
{#- The ledger's columns, in union order, with the type a branch that lacks one pads it with. -#}
{%- set payment_columns = [
    ('payment_key', 'string'), ('source', 'string'), ('matched_by', 'string'),
    ('payment_type', 'string'), ('is_test', 'boolean'), ('account', 'string'),
    ('order_id', 'string'), ('item_type', 'string'), ('item_id', 'string'),
    ('item_name', 'string'), ('subscription_id', 'string'),
    ('processor_subscription_id', 'string'), ('amount', 'amount'), ('tax_amount', 'amount'),
    ('currency', 'string'), ('paid_at', 'timestamp'), ('is_dated_by_order', 'boolean'),
    ('processor_charge_id', 'string'), ('invoice_id', 'string'), ('email', 'string'),
    ('first_name', 'string'), ('last_name', 'string'), ('country', 'string'),
    ('thrivecart_customer_id', 'string'), ('campaign_id', 'string'), ('affiliate_id', 'string'),
    ('coupon', 'string'), ('processor', 'string'), ('csv_movement_id', 'string'),
    ('webhook_movement_id', 'string'), ('csv_amount', 'amount'), ('webhook_amount', 'amount'),
    ('csv_paid_at', 'timestamp'), ('webhook_paid_at', 'timestamp'),
] %}
-- Dedupe rule 3 (the payment rules index: the `payment_rules` doc block, models/docs.md):
-- the same payment seen in a CSV row and in a webhook becomes one row.
-- Exact ids first (the export's transaction_id equal to the webhook's processor charge id,
-- event_id or webhook_id, in the same order), then, among what is left, the natural key:
-- order, item, kind, currency and amount, dated within `match_tolerance_minutes`. Refund rows in an export carry
-- the order's date, so refunds match on the key alone, the k-th CSV refund of an item and
-- amount with the k-th webhook refund of it; refunds still unpaired then pair per item
-- whatever their amounts (rule refund_item). `matched_by` records the rule.
-- A match never crosses orders (exact ids included), so an incremental build matches only
-- the orders it recomputes (macros/incremental.sql) and replaces their rows.
with csv_payments as (

    select * from {{ ref('int_csv_payments_deduplicated') }}
    where {{ in_changed_orders('order_id') }}

),

webhook_payments as (

    select * from {{ ref('int_webhook_payments_deduplicated') }}
    where {{ in_changed_orders('order_id') }}

),

exact_candidates as (

    -- One join per exact id, in the order of preference: the export's transaction_id equal to
    -- the webhook's processor charge id, its event_id, or its webhook_id.
    {%- for rule, webhook_id in [
        ('transaction_id', 'processor_charge_id'),
        ('event_id', 'event_id'),
        ('webhook_id', 'webhook_id'),
    ] %}
    {% if not loop.first %}union all{% endif %}
    select
        csv_payments.movement_id as csv_movement_id,
        webhook_payments.movement_id as webhook_movement_id,
        '{{ rule }}' as matched_by,
        {{ loop.index }} as rule_priority
    from csv_payments
    inner join webhook_payments
        on csv_payments.processor_charge_id = webhook_payments.{{ webhook_id }}
        and csv_payments.payment_type = webhook_payments.payment_type
        and coalesce(csv_payments.order_id, '') = coalesce(webhook_payments.order_id, '')
    {%- endfor %}

),

exact_ranked as (

    select
        *,
        row_number() over (
            partition by csv_movement_id order by rule_priority, webhook_movement_id
        ) as csv_choice,
        row_number() over (
            partition by webhook_movement_id order by rule_priority, csv_movement_id
        ) as webhook_choice
    from exact_candidates

),

exact_pairs as (

    select csv_movement_id, webhook_movement_id, matched_by
    from exact_ranked
    where csv_choice = 1 and webhook_choice = 1

),

csv_unmatched as (

    select *
    from csv_payments
    where movement_id not in (select csv_movement_id from exact_pairs)

),

webhook_unmatched as (

    select *
    from webhook_payments
    where movement_id not in (select webhook_movement_id from exact_pairs)

),

timed_candidates as (

    -- Charges and rebills: each CSV row pairs with its nearest webhook in time and vice versa.
    select
        csv_unmatched.movement_id as csv_movement_id,
        webhook_unmatched.movement_id as webhook_movement_id,
        abs({{ dbt.datediff('csv_unmatched.paid_at', 'webhook_unmatched.paid_at', 'second') }})
            as seconds_apart
    from csv_unmatched
    inner join webhook_unmatched
        on csv_unmatched.order_id = webhook_unmatched.order_id
        and csv_unmatched.item_type = webhook_unmatched.item_type
        and csv_unmatched.item_id = webhook_unmatched.item_id
        and csv_unmatched.payment_type = webhook_unmatched.payment_type
        and csv_unmatched.currency = webhook_unmatched.currency
        and csv_unmatched.amount = webhook_unmatched.amount
    where csv_unmatched.payment_type in ('charge', 'rebill')
        and abs({{ dbt.datediff('csv_unmatched.paid_at', 'webhook_unmatched.paid_at', 'second') }})
        <= {{ tolerance_seconds }}

),

timed_ranked as (

    select
        *,
        row_number() over (
            partition by csv_movement_id order by seconds_apart, webhook_movement_id
        ) as csv_choice,
        row_number() over (
            partition by webhook_movement_id order by seconds_apart, csv_movement_id
        ) as webhook_choice
    from timed_candidates

),

csv_refunds_ordered as (

    select
        *,
        row_number() over (
            partition by order_id, item_type, item_id, currency, amount
            order by paid_at, csv_key
        ) as refund_ordinal
    from csv_unmatched
    where payment_type = 'refund'

),

webhook_refunds_ordered as (

    select
        *,
        row_number() over (
            partition by order_id, item_type, item_id, currency, amount
            order by paid_at, natural_key
        ) as refund_ordinal
    from webhook_unmatched
    where payment_type = 'refund'

),

natural_pairs as (

    select csv_movement_id, webhook_movement_id, 'natural_key' as matched_by
    from timed_ranked
    where csv_choice = 1 and webhook_choice = 1

    union all

    select
        csv_refunds_ordered.movement_id,
        webhook_refunds_ordered.movement_id,
        'natural_key'
    from csv_refunds_ordered
    inner join webhook_refunds_ordered
        on csv_refunds_ordered.order_id = webhook_refunds_ordered.order_id
        and csv_refunds_ordered.item_type = webhook_refunds_ordered.item_type
        and csv_refunds_ordered.item_id = webhook_refunds_ordered.item_id
        and csv_refunds_ordered.currency = webhook_refunds_ordered.currency
        and csv_refunds_ordered.amount = webhook_refunds_ordered.amount
        and csv_refunds_ordered.refund_ordinal = webhook_refunds_ordered.refund_ordinal

),

csv_refunds_left as (

    select
        *,
        row_number() over (
            partition by order_id, item_type, item_id, currency order by paid_at, csv_key
        ) as item_ordinal
    from csv_refunds_ordered
    where movement_id not in (select csv_movement_id from natural_pairs)

),

webhook_refunds_left as (

    select
        *,
        row_number() over (
            partition by order_id, item_type, item_id, currency order by paid_at, natural_key
        ) as item_ordinal
    from webhook_refunds_ordered
    where movement_id not in (select webhook_movement_id from natural_pairs)

),

refund_item_pairs as (

    -- Exports can get a partial refund's amount wrong: a refund of an item left over on both
    -- sides is the same refund whatever the amounts say, and the webhook's amount counts.
    select
        csv_refunds_left.movement_id as csv_movement_id,
        webhook_refunds_left.movement_id as webhook_movement_id,
        'refund_item' as matched_by
    from csv_refunds_left
    inner join webhook_refunds_left
        on csv_refunds_left.order_id = webhook_refunds_left.order_id
        and csv_refunds_left.item_type = webhook_refunds_left.item_type
        and csv_refunds_left.item_id = webhook_refunds_left.item_id
        and csv_refunds_left.currency = webhook_refunds_left.currency
        and csv_refunds_left.item_ordinal = webhook_refunds_left.item_ordinal

),

pairs as (

    select * from exact_pairs
    union all
    select * from natural_pairs
    union all
    select * from refund_item_pairs

),

matched as (

    -- The webhook knows the exact amount (integer cents) and the real time of the event;
    -- only the export knows the campaign, affiliate and coupon.
    select
        webhook_payments.natural_key as payment_key,
        'csv+webhook' as source,
        pairs.matched_by,
        webhook_payments.payment_type,
        webhook_payments.is_test,
        webhook_payments.account,
        webhook_payments.order_id,
        webhook_payments.item_type,
        webhook_payments.item_id,
        coalesce(webhook_payments.item_name, csv_payments.item_name) as item_name,
        coalesce(webhook_payments.subscription_id, csv_payments.subscription_id)
            as subscription_id,
        webhook_payments.processor_subscription_id,
        webhook_payments.amount,
        coalesce(webhook_payments.tax_amount, csv_payments.tax_amount) as tax_amount,
        webhook_payments.currency,
        webhook_payments.paid_at,
        false as is_dated_by_order,
        coalesce(webhook_payments.processor_charge_id, csv_payments.processor_charge_id)
            as processor_charge_id,
        webhook_payments.invoice_id,
        coalesce(webhook_payments.email, csv_payments.email) as email,
        coalesce(webhook_payments.first_name, csv_payments.first_name) as first_name,
        coalesce(webhook_payments.last_name, csv_payments.last_name) as last_name,
        coalesce(webhook_payments.country, csv_payments.country) as country,
        webhook_payments.thrivecart_customer_id,
        csv_payments.campaign_id,
        csv_payments.affiliate_id,
        csv_payments.coupon,
        coalesce(webhook_payments.processor, csv_payments.processor) as processor,
        csv_payments.movement_id as csv_movement_id,
        webhook_payments.movement_id as webhook_movement_id,
        csv_payments.amount as csv_amount,
        webhook_payments.amount as webhook_amount,
        csv_payments.paid_at as csv_paid_at,
        webhook_payments.paid_at as webhook_paid_at
    from pairs
    inner join csv_payments
        on pairs.csv_movement_id = csv_payments.movement_id
    inner join webhook_payments
        on pairs.webhook_movement_id = webhook_payments.movement_id

),

csv_only as (

    select
        {{- padded_select_list(payment_columns,
            same=['payment_type', 'order_id', 'item_type', 'item_id', 'item_name',
                  'subscription_id', 'amount', 'tax_amount', 'currency', 'paid_at',
                  'is_dated_by_order', 'processor_charge_id', 'email', 'first_name', 'last_name',
                  'country', 'campaign_id', 'affiliate_id', 'coupon', 'processor'],
            exprs={'payment_key': 'csv_key', 'source': "'csv'", 'is_test': 'false',
                   'csv_movement_id': 'movement_id', 'csv_amount': 'amount',
                   'csv_paid_at': 'paid_at'}) }}
    from csv_payments
    where movement_id not in (select csv_movement_id from pairs)

),

webhook_only as (

    select
        {{- padded_select_list(payment_columns,
            same=['payment_type', 'is_test', 'account', 'order_id', 'item_type', 'item_id',
                  'item_name', 'subscription_id', 'processor_subscription_id', 'amount',
                  'tax_amount', 'currency', 'paid_at', 'processor_charge_id', 'invoice_id',
                  'email', 'first_name', 'last_name', 'country', 'thrivecart_customer_id',
                  'processor'],
            exprs={'payment_key': 'natural_key', 'source': "'webhook'",
                   'is_dated_by_order': 'false', 'webhook_movement_id': 'movement_id',
                   'webhook_amount': 'amount', 'webhook_paid_at': 'paid_at'}) }}
    from webhook_payments
    where movement_id not in (select webhook_movement_id from pairs)

)

select * from matched
union all
select * from csv_only
union all
select * from webhook_only
