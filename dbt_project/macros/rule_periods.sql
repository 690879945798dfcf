{#-
    The rules of a cost file (docs/costs.md) as periods: one row per key and valid_from, in
    force until the next valid_from of the same key (`valid_until`, null for the latest), with
    its values and the file it came from. Where files repeat a rule, the file loaded last
    counts (a corrected file replaces the old one), and within a file its last row. The fee
    and the product cost rules differ only in their key and value columns. Plain SQL, so it
    compiles on any warehouse.
-#}
{% macro rule_periods(source_relation, key_columns, value_columns) -%}
{%- set keys = key_columns | join(', ') -%}
with ranked as (

    select
        {{ keys }},
        valid_from,
        {{ value_columns | join(', ') }},
        _file_path as file_path,
        row_number() over (
            partition by {{ keys }}, valid_from
            order by
                _loaded_at desc nulls last, _file_path desc nulls last,
                _row_number desc nulls last
        ) as file_rank
    from {{ source_relation }}

)

select
    {{ keys }},
    valid_from,
    lead(valid_from) over (
        partition by {{ keys }} order by valid_from
    ) as valid_until,
    {{ value_columns | join(', ') }},
    file_path
from ranked
where file_rank = 1
{%- endmacro %}
