{#-
    The column identifies a row: it is never null and no value repeats. dbt's `unique` and
    `not_null` together, in one scan and one node (at a million rows, each test of a staging
    view recomputes the view). Fails with one row per offending value.
-#}
{% test unique_and_not_null(model, column_name) %}

select
    {{ column_name }},
    count(*) as rows_with_value
from {{ model }}
group by {{ column_name }}
having count(*) > 1 or {{ column_name }} is null

{% endtest %}
