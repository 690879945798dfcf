{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_recomputed(in_changed_customers('email')) }}",
) }}
-- Every (email, currency, ThriveCart customer id) a live webhook showed, once. ThriveCart can
-- give one buyer several customer ids; identity is the email, and the ids are kept.
-- Materialized before the null filter: pushed below the views, `email is not null` would parse
-- each cancellation and failed rebill payload once more per reference (4.4 -> 1.6 CPU s at 1M).
with webhook_customers as {{ materialized_cte() }} (

    select email, currency, thrivecart_customer_id
    from {{ ref('int_webhook_payments_deduplicated') }}
    where not is_test and {{ in_changed_customers('email') }}

    union all

    select email, currency, thrivecart_customer_id
    from {{ ref('stg_thrivecart__webhook_cancellations') }}
    where not is_test and {{ in_changed_customers('email') }}

    union all

    select email, currency, thrivecart_customer_id
    from {{ ref('stg_thrivecart__webhook_failed_rebills') }}
    where not is_test and {{ in_changed_customers('email') }}

)

select distinct
    email,
    currency,
    thrivecart_customer_id
from webhook_customers
where email is not null and thrivecart_customer_id is not null
