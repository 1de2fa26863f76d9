with directorates as (
    select * from {{ ref('territorial_directorates') }}
),

final as (
    select
        directorate_id,
        directorate_name,
        label_name
    from directorates
)

select * from final
