-- Goals (playlists) with the seeds' keys resolved from the names ESAP types.
with goals as (
    select * from {{ ref('stg_esap__goals') }}
),

directorates as (
    select * from {{ ref('territorial_directorates') }}
),

lines as (
    select * from {{ ref('thematic_lines') }}
),

final as (
    select
        goals.goal_year,
        directorates.directorate_id,
        lines.thematic_line_id,
        goals.goal
    from goals
    left join directorates
        on {{ matches_seed('goals.directorate_name', 'directorates', 'directorate') }}
    left join lines
        on {{ matches_seed('goals.thematic_line_name', 'lines', 'thematic_line') }}
)

select * from final
