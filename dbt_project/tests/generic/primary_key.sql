{#-
    The columns together identify a row: none of them is null and no combination repeats.
    Fails with one row per offending key. (dbt ships unique and not_null for one column only.)
-#}
{% test primary_key(model, column_names) %}

select
    {{ column_names | join(', ') }},
    count(*) as rows_with_key
from {{ model }}
group by {{ column_names | join(', ') }}
having count(*) > 1
    {%- for column in column_names %}
    or {{ column }} is null
    {%- endfor %}

{% endtest %}
