with source as (
    select * from {{ source('esap', 'esap_metas') }}
),

final as (
    select
        goal_year::integer as goal_year,
        directorate as directorate_name,
        thematic_line as thematic_line_name,
        goal::integer as goal
    from source
)

select * from final
