-- The impact estimates (DESIGN.md §5-6): one row per outcome, method and event time (null for
-- the overall effect), as the impact DAG's estimator wrote them into the working table
-- intermediate.impact_estimates (source impact.impact_estimates). Built into marts_build,
-- tested, gated and published like every mart. The columns are this model's contract: a column
-- the estimator does not produce (yet) is null, and before the estimator has ever run (a new
-- warehouse) the table is empty.
{%- set computed = source('impact', 'impact_estimates') %}
{%- set available = [] %}
{%- if execute %}
    {%- set relation = adapter.get_relation(database=computed.database, schema=computed.schema,
                                            identifier=computed.identifier) %}
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
