-- Each DIVIPOLA entity with the territorial directorate that covers it: by department, unless a
-- municipality-level override splits the department (Putumayo between HUI and NAR). The entity's
-- own columns pass through, so that dim_municipality reads the entities from here only (no model
-- rejoins stg_divipola__municipalities downstream of this one).
with municipalities as (
    select * from {{ ref('stg_divipola__municipalities') }}
),

departments as (
    select * from {{ ref('directorate_departments') }}
),

overrides as (
    select * from {{ ref('directorate_municipality_overrides') }}
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
        municipalities.latitude,
        municipalities.longitude,
        municipalities.coordinates_edition,
        coalesce(overrides.directorate_id, departments.directorate_id) as directorate_id
    from municipalities
    left join departments on municipalities.department_id = departments.department_id
    left join overrides on municipalities.municipality_id = overrides.municipality_id
)

select * from final
