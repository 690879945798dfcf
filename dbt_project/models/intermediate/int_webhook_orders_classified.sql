{{ config(materialized='view') }}
-- One row per order seen in webhooks: its account and whether it is a test. Exports say
-- neither, so export rows borrow both from here; an order only ever seen in test-mode
-- webhooks is a test wherever it appears. A view: its readers take the orders they need.
select
    order_id,
    max(account) as account,
    min(case when is_test then 1 else 0 end) = 1 as is_test_only
from {{ ref('int_webhook_payments_deduplicated') }}
where order_id is not null
group by order_id
