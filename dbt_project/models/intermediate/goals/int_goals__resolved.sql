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
        on {{ normalise_text('goals.directorate_name') }} in (
            {{ normalise_text('directorates.directorate_name') }},
            {{ normalise_text('directorates.directorate_id') }}
        )
    left join lines
        on {{ normalise_text('goals.thematic_line_name') }} in (
            {{ normalise_text('lines.thematic_line_name') }},
            {{ normalise_text('lines.thematic_line_id') }}
        )
)

select * from final
