-- IMRC per municipality, edition and hazard (exceso / deficit de lluvias). The value is null
-- where DNP published a statement ('Sin población expuesta', kept in notes).
with source as (
    select * from {{ source('imrc', 'imrc') }}
),

final as (
    select
        municipality_code as municipality_id,
        edition::integer as edition,
        hazard,
        imrc::numeric as imrc,
        case
            when upper(trim(capacity_group)) in ('C', 'CIUDADES', 'CAPITALES') then 'C'
            when upper(trim(capacity_group)) ~ '^G\s*[1-5]'
                then 'G' || substring(upper(trim(capacity_group)) from '[1-5]')
            when trim(capacity_group) ~ '^[1-5](\.0+)?$' then 'G' || left(trim(capacity_group), 1)
        end as capacity_group,
        capacity_group as capacity_group_published,
        notes,
        _published_on as published_on
    from source
)

select * from final
