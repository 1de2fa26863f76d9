-- The certainty rows of the prioritised lists (source prioritisation.prioritisation_certainty,
-- written by the prioritisation DAG), typed as this model's yml declares. Before the first
-- prioritisation run the source does not exist and this model is empty.
{%- set computed = source('prioritisation', 'prioritisation_certainty') %}
{%- set exists = [] %}
{%- if execute %}
    {%- if adapter.get_relation(database=computed.database, schema=computed.schema,
                                identifier=computed.identifier) is not none %}
        {%- do exists.append(true) %}
    {%- endif %}
{%- endif %}
{%- set select_list = [] %}
{%- for name, column in model.columns.items() %}
{%- do select_list.append((name if exists else 'null') ~ '::' ~ column.data_type ~ ' as ' ~ name) %}
{%- endfor %}

{% if exists %}
with certainty as (
    select * from {{ computed }}
),

final as (
    select
        {{ select_list | join(',\n        ') }}
    from certainty
)
{% else %}
with final as (
    select
        {{ select_list | join(',\n        ') }}
    where false
)
{% endif %}

select * from final
