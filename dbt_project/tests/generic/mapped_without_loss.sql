{#-
    No silent loss in an enumeration mapping: fails on every row whose published value
    (`published`, a column or expression of the model) is not empty while the mapped column is
    null. `except_values` lists published values that are meant to map to null (compared
    trimmed and upper-cased), such as CGN's 'SIN' (no category that year).
-#}
{% test mapped_without_loss(model, column_name, published, except_values=[]) %}
select
    {{ published }} as published_value,
    count(*) as rows_mapped_to_null
from {{ model }}
where
    {{ column_name }} is null
    and nullif(trim({{ published }}), '') is not null
    {% if except_values %}
    and upper(trim({{ published }})) not in (
        {%- for v in except_values %}'{{ v | upper | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor -%}
    )
    {%- endif %}
group by 1
{% endtest %}
