{#-
    How the marts read a checkout. Plain SQL only, so it compiles on any warehouse.
-#}

{#-
    The items of one checkout share a time, so their role decides which comes first: the
    front-end product, then the bump, the upsell and the downsell. The first payment above zero
    of an order in this order (then by payment_id) is its front item: the acquiring product of
    dim_customers and the product of each order in int_customer_orders_ranked.
-#}
{% macro item_rank(item_type) -%}
    case {{ item_type }}
        when 'product' then 0 when 'bump' then 1 when 'upsell' then 2 else 3
    end
{%- endmacro %}
