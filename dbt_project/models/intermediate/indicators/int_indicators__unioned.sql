-- One value per municipality, indicator and year, with the date it was published (for
-- point-in-time use). IDF: `idf` is DNP's new methodology (2020 on), `idf_anterior` the old one
-- (up to 2021); both exist for 2021 and are not comparable. Category and capacity group come from
-- the IDF workbooks (DNP carries them there); where both methodologies give one, the new wins.
with idf as (
    select * from {{ ref('stg_idf__scores') }}
),

scores as (
    select
        municipality_id,
        case methodology when 'nueva' then 'idf' else 'idf_anterior' end as indicator,
        year,
        idf_score as value,
        range_label as value_label,
        methodology,
        published_on,
        'DNP IDF' as source
    from idf
),

categories as (
    select distinct on (municipality_id, year)
        municipality_id,
        'category' as indicator,
        year,
        null::numeric as value,
        category as value_label,
        methodology,
        published_on,
        'DNP IDF (Categoría Ley 617 de 2000)' as source
    from idf
    where category is not null
    order by municipality_id, year, (methodology = 'nueva') desc
),

capacity_groups as (
    select
        municipality_id,
        'capacity_group' as indicator,
        year,
        null::numeric as value,
        capacity_group as value_label,
        methodology,
        published_on,
        'DNP IDF (Dotaciones Iniciales)' as source
    from idf
    where capacity_group is not null and methodology = 'nueva'
),

final as (
    select * from scores
    union all
    select * from categories
    union all
    select * from capacity_groups
)

select * from final
