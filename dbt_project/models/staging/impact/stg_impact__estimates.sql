-- The impact estimator's rows (source impact.impact_estimates, written by the impact DAG), typed:
-- the columns of this model's yml, each from the source when it has it, else a typed null (a
-- column the estimator does not produce yet). Before the estimator has ever run (a new warehouse)
-- the source does not exist and this view is empty.
{%- set computed = source('impact', 'impact_estimates') %}
{%- set available = [] %}
{%- if execute %}
{%- set relation = adapter.get_relation(computed.database, computed.schema, computed.identifier) %}
{%- if relation is not none %}
{%- for column in adapter.get_columns_in_relation(relation) %}
{%- do available.append(column.name) %}
{%- endfor %}
{%- endif %}
{%- endif %}

{#- The contract's columns, each from the source when it has it, else a typed null. #}
{%- set select_list = [] %}
{%- for name, column in model.columns.items() %}
{%- do select_list.append((name if name in available else 'null') ~ '::' ~ column.data_type ~ ' as ' ~ name) %}
{%- endfor %}

{% if available %}
with estimates as (
    select * from {{ computed }}
),

final as (
    select
        {{ select_list | join(',\n        ') }}
    from estimates
)
{% else %}
with final as (
    select
        {{ select_list | join(',\n        ') }}
    where false
)
{% endif %}

select * from final
