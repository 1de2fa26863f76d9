with lines as (
    select * from {{ ref('thematic_lines') }}
),

final as (
    select
        thematic_line_id,
        thematic_line_name,
        album_name
    from lines
)

select * from final
