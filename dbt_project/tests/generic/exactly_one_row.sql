{#-
    The model holds exactly one row (mart_metadata: one row about the marts, even before any
    data arrived). Fails with the row count when it is not one.
-#}
{% test exactly_one_row(model) %}

select count(*) as rows_in_model
from {{ model }}
having count(*) <> 1

{% endtest %}
