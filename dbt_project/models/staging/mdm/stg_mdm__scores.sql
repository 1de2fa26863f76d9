-- MDM values of municipalities (the departmental MDD rows stay in raw), one row per
-- municipality, year and indicator; capacity groups normalised to C, G1-G5 (DNP's base
-- publishes them as C or a bare digit 1-5, other releases as G1-G5 or Ciudades).
with source as (
    select * from {{ source('mdm', 'mdm') }}
),

final as (
    select
        entity_code as municipality_id,
        year::integer as year,
        indicator,
        published_indicator,
        value::numeric as value,
        case
            when indicator <> 'capacity_group' then null
            when upper(trim(value_label)) in ('C', 'CIUDADES', 'CAPITALES') then 'C'
            when upper(trim(value_label)) ~ '^G\s*[1-5]' then 'G' || substring(upper(trim(value_label)) from '[1-5]')
            when trim(value_label) ~ '^[1-5](\.0+)?$' then 'G' || left(trim(value_label), 1)
        end as capacity_group,
        case when indicator = 'capacity_group' then value_label end as capacity_group_published,
        source_format,
        _published_on as published_on
    from source
    where entity_level = 'municipio' and indicator is not null
)

select * from final
