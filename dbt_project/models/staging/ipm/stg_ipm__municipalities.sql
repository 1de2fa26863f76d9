-- Census 2018 municipal IPM (% of persons): total, urban centres and rural areas.
with source as (
    select * from {{ source('ipm', 'ipm') }}
),

final as (
    select
        entity_code as municipality_id,
        year::integer as year,
        ipm::numeric as ipm,
        ipm_cabecera::numeric as ipm_cabecera,
        ipm_rural::numeric as ipm_rural,
        notes,
        _published_on as published_on
    from source
    where entity_level = 'municipio'
)

select * from final
