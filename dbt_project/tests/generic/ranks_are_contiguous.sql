{#- The non-null values of `column_name` are exactly 1..n within each partition (no gap, no tie). -#}
{% test ranks_are_contiguous(model, column_name, partition_by=[]) %}
with ranks as (
    select
        {{ column_name }} as rank_value,
        row_number() over (
            {% if partition_by %}partition by {{ partition_by | join(', ') }}{% endif %}
            order by {{ column_name }}
        ) as expected
    from {{ model }}
    where {{ column_name }} is not null
)

select *
from ranks
where rank_value <> expected
{% endtest %}
