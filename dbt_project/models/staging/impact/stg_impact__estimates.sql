-- The impact estimator's rows (source impact.impact_estimates, written by the impact DAG), typed:
-- the columns of this model's yml, each from the source when it has it, else a typed null (a
-- column the estimator does not produce yet). Before the estimator has ever run (a new warehouse)
-- the source does not exist and this view is empty.
{%- set computed = source('impact', 'impact_estimates') %}
{%- set available = available_columns(computed) %}

{% if available %}
with estimates as (
    select * from {{ computed }}
),

final as (
    select
        {{ typed_select_list(available) }}
    from estimates
)
{% else %}
with final as (
    select
        {{ typed_select_list(available) }}
    where false
)
{% endif %}

select * from final
