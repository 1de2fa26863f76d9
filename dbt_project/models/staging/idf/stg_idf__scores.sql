with source as (
    select * from {{ source('raw', 'idf') }}
),

final as (
    select
        municipality_code as municipality_id,
        year::integer as year,
        methodology,
        idf_score::numeric as idf_score,
        range_label,
        case
            when upper(trim(category)) in ('E', 'ESP', 'ESPECIAL', 'CATEGORIA E', 'CATEGORÍA E') then 'E'
            when trim(category) ~ '^[1-6](\.0+)?$' then left(trim(category), 1)
        end as category,
        case
            when upper(trim(capacity_group)) in ('C', 'CIUDADES') then 'C'
            when upper(trim(capacity_group)) ~ '^G[1-5]' then left(upper(trim(capacity_group)), 2)
        end as capacity_group,
        _published_on as published_on
    from source
)

select * from final
