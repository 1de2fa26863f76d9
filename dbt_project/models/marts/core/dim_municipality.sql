with municipalities as (
    select * from {{ ref('int_municipalities__directorates') }}
),

pdet as (
    select * from {{ ref('stg_pdet__municipalities') }}
),

indicators as (
    select * from {{ ref('int_indicators__unioned') }}
),

latest_labels as (
    select distinct on (municipality_id, indicator)
        municipality_id,
        indicator,
        value_label
    from indicators
    where indicator in ('category', 'capacity_group')
    order by municipality_id asc, indicator asc, year desc
),

final as (
    select
        municipalities.municipality_id,
        municipalities.municipality_name,
        municipalities.department_id,
        municipalities.department_name,
        municipalities.entity_type,
        municipalities.is_current,
        municipalities.first_seen_edition,
        municipalities.last_seen_edition,
        municipalities.directorate_id,
        pdet.municipality_id is not null as is_pdet,
        pdet.pdet_subregion,
        category.value_label as category,
        capacity.value_label as capacity_group,
        municipalities.latitude,
        municipalities.longitude,
        municipalities.coordinates_edition
    from municipalities
    left join pdet on municipalities.municipality_id = pdet.municipality_id
    left join latest_labels as category
        on municipalities.municipality_id = category.municipality_id and category.indicator = 'category'
    left join latest_labels as capacity
        on municipalities.municipality_id = capacity.municipality_id and capacity.indicator = 'capacity_group'
)

select * from final
