-- The certainty rows of the prioritised lists (source prioritisation.prioritisation_certainty,
-- written by the prioritisation DAG), typed as this model's yml declares. Before the first
-- prioritisation run the source does not exist and this model is empty.
{%- set computed = source('prioritisation', 'prioritisation_certainty') %}
{%- set available = available_columns(computed) %}

{% if available %}
with certainty as (
    select * from {{ computed }}
),

final as (
    select
        {{ typed_select_list(available) }}
    from certainty
)
{% else %}
with final as (
    select
        {{ typed_select_list(available) }}
    where false
)
{% endif %}

select * from final
