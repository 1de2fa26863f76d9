-- How sure each year's prioritised list is: rank interval and selection probability per eligible
-- municipality over a seeded Monte Carlo (sinfonia.certainty), beside mart_prioritisation.
with certainty as (
    select * from {{ ref('stg_prioritisation__certainty') }}
),

final as (
    select
        prioritisation_year,
        municipality_id,
        published_rank,
        rank_median,
        rank_p05,
        rank_p95,
        selection_probability,
        is_uncertain,
        draws,
        seed,
        settings,
        computed_at
    from certainty
)

select * from final
