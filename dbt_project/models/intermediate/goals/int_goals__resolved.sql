-- Goals (playlists) with the seeds' keys resolved from the names ESAP types.
with goals as (
    select * from {{ ref('stg_esap__goals') }}
),

directorates as (
    {{ seed_keys('territorial_directorates', 'directorate') }}
),

lines as (
    {{ seed_keys('thematic_lines', 'thematic_line') }}
),

final as (
    select
        goals.goal_year,
        directorates.directorate_id,
        lines.thematic_line_id,
        goals.goal
    from goals
    left join directorates
        on {{ normalise_text('goals.directorate_name') }} = directorates.match_key
    left join lines
        on {{ normalise_text('goals.thematic_line_name') }} = lines.match_key
)

select * from final
