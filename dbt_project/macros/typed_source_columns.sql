{#-
    The select list of a staging model over a table written by Python (the impact estimator, the
    prioritisation's certainty): each column of the model's yml, from `relation` when the table has
    it, else a typed null (a column the writer does not produce yet). `available` is empty before
    the writer has ever run (the table does not exist); the model then selects no row.
-#}
{% macro available_columns(relation) -%}
    {%- set available = [] %}
    {%- if execute %}
        {%- set found = adapter.get_relation(relation.database, relation.schema, relation.identifier) %}
        {%- if found is not none %}
            {%- for column in adapter.get_columns_in_relation(found) %}
                {%- do available.append(column.name) %}
            {%- endfor %}
        {%- endif %}
    {%- endif %}
    {{- return(available) }}
{%- endmacro %}

{% macro typed_select_list(available) -%}
    {%- set select_list = [] %}
    {%- for name, column in model.columns.items() %}
        {%- do select_list.append((name if name in available else 'null') ~ '::' ~ column.data_type ~ ' as ' ~ name) %}
    {%- endfor %}
    {{- return(select_list | join(',\n        ')) }}
{%- endmacro %}

{#-
    The whole body of such a staging model (stg_impact__estimates, stg_prioritisation__certainty):
    the source table typed as the model's yml declares, or no row before its writer first ran.
    One shape for every table Python writes and dbt reads.
-#}
{% macro typed_computed_source(source_name, table_name) -%}
    {%- set computed = source(source_name, table_name) %}
    {%- set available = available_columns(computed) %}
{% if available %}
with computed as (
    select * from {{ computed }}
),

final as (
    select
        {{ typed_select_list(available) }}
    from computed
)
{% else %}
with final as (
    select
        {{ typed_select_list(available) }}
    where false
)
{% endif %}

select * from final
{%- endmacro %}
