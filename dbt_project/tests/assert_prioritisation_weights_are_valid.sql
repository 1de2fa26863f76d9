-- Prioritisation weights: every weight >= 0 and at least one positive. The one
-- validation of the weights: `dbt build` and every prioritisation run (selector prioritisation)
-- run it before the year is computed. Each failing row says what is wrong in `problem`.
{{ config(store_failures=true, schema='intermediate') }}

with weights as (
    select * from {{ ref('prioritisation_weights') }}
),

negatives as (
    select
        indicator,
        weight,
        'weight of ' || indicator || ' is ' || coalesce(weight::text, 'empty') || '; weights must be >= 0' as problem
    from weights
    where weight is null or weight < 0
),

no_positive as (
    select
        null::text as indicator,
        null::numeric as weight,
        'at least one weight must be positive' as problem
    where not exists (
        select 1 from weights
        where weight > 0
    )
),

final as (
    select * from negatives
    union all
    select * from no_positive
)

select * from final
