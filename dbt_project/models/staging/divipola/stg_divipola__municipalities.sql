with source as (
    select * from {{ source('raw', 'divipola') }}
),

final as (
    select
        municipality_code as municipality_id,
        initcap(municipality_name) as municipality_name,
        department_code as department_id,
        initcap(department_name) as department_name,
        entity_type
    from source
)

select * from final
