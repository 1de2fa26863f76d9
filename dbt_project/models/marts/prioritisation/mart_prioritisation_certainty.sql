-- How sure each year's prioritised list is: rank interval and selection probability per eligible
-- municipality over a seeded Monte Carlo (sinfonia.certainty), beside mart_prioritisation.
with certainty as (
    select * from {{ ref('stg_prioritisation__certainty') }}
),

final as (
    select * from certainty
)

select * from final
