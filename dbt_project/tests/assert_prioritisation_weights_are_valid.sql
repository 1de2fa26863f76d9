-- Prioritisation weights: every weight >= 0 and at least one positive (DESIGN.md §6).
-- Returns a row (and so fails) when the seed breaks either rule.
with weights as (
    select * from {{ ref('prioritisation_weights') }}
),

negatives as (
    select indicator, weight, 'weight must be >= 0' as problem
    from weights
    where weight < 0
),

no_positive as (
    select null::text as indicator, null::numeric as weight, 'at least one weight must be positive' as problem
    where not exists (select 1 from weights where weight > 0)
),

final as (
    select * from negatives
    union all
    select * from no_positive
)

select * from final
