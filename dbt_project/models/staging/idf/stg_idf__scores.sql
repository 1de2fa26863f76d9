-- bono_catastro arrives with the parser that reads it; a raw.idf loaded before has no such column
-- until its next extract, and gives nulls here meanwhile.
{%- set raw_columns = adapter.get_columns_in_relation(source('idf', 'idf')) | map(attribute='name') | list
    if execute else [] %}

with source as (
    select * from {{ source('idf', 'idf') }}
),

final as (
    select
        municipality_code as municipality_id,
        year::integer as year,
        methodology,
        idf_score::numeric as idf_score,
        range_label,
        {{ 'bono_catastro::numeric' if 'bono_catastro' in raw_columns else 'null::numeric' }} as bono_catastro,
        case
            when range_label ~ '^\s*[1-5]\s*\.' then substring(range_label from '[1-5]')::integer
        end as range_level,
        case
            when upper(trim(category)) in ('E', 'ESP', 'ESPECIAL', 'CATEGORIA E', 'CATEGORÍA E') then 'E'
            when trim(category) ~ '^[1-6](\.0+)?$' then left(trim(category), 1)
        end as category,
        category as category_published,
        case
            when upper(trim(capacity_group)) in ('C', 'CIUDADES') then 'C'
            when upper(trim(capacity_group)) ~ '^G\s*[1-5]'
                then 'G' || substring(upper(trim(capacity_group)) from '[1-5]')
            when trim(capacity_group) ~ '^[1-5](\.0+)?$' then 'G' || left(trim(capacity_group), 1)
        end as capacity_group,
        capacity_group as capacity_group_published,
        _published_on as published_on
    from source
)

select * from final
