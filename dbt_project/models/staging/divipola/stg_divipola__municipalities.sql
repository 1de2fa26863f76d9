with source as (
    select * from {{ source('raw', 'divipola') }}
),

final as (
    select
        municipality_code as municipality_id,
        {{ title_case('municipality_name') }} as municipality_name,
        department_code as department_id,
        {{ title_case('department_name') }} as department_name,
        entity_type
    from source
)

select * from final
