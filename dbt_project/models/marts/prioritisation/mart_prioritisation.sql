-- The yearly prioritisation snapshots (README, "The annual prioritisation"): one row per prioritisation year and
-- municipality, every year ever prioritised. Incremental: a run appends the year computed by
-- int_prioritisation__candidate (parameters prioritisation_year, prioritisation_as_of_date) when
-- the snapshot does not hold that year yet; a year already written stays as it is unless the run
-- is forced (parameter prioritisation_force), which replaces the whole year (delete+insert on
-- prioritisation_year: a municipality no longer in the universe leaves the year too).
-- The table keeps its state in marts_build between runs (publish copies it to marts) and is
-- never rebuilt by --full-refresh (full_refresh: false): past snapshots cannot be recomputed
-- with the inputs and weights they had. On its first build it starts from the published
-- marts.mart_prioritisation when one exists (a warehouse where this table was written by
-- earlier versions), so no past year is lost.
{{
    config(
        materialized='incremental',
        unique_key='prioritisation_year',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        full_refresh=false
    )
}}
{%- set columns = model.columns.keys() | list %}

with prioritised as (
    select * from {{ ref('int_prioritisation__candidate') }}
),

new_year as (
    select {{ columns | join(', ') }}
    from prioritised
    {%- if is_incremental() and not prioritisation_parameter('prioritisation_force', false) %}
    where not exists (
        select 1 from {{ this }} as snapshot
        where snapshot.prioritisation_year = prioritised.prioritisation_year
    )
    {%- endif %}
),

final as (
    select * from new_year
    {%- if not is_incremental() %}
    {%- set published = adapter.get_relation(database=target.database, schema='marts',
                                              identifier='mart_prioritisation') %}
    {%- if published is not none %}
    union all
    select {{ columns | join(', ') }}
    from {{ published }} as published
    where published.prioritisation_year not in (select new_year.prioritisation_year from new_year)
    {%- endif %}
    {%- endif %}
)

select * from final
