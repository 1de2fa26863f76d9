-- Person level and sensitive: built in the `restricted` schema, like its source, never in staging.
{{ config(schema='restricted') }}

with source as (
    select * from {{ source('restricted', 'esap_equipos') }}
),

final as (
    select
        goal_year::integer as goal_year,
        directorate as directorate_name,
        team as team_name,
        person_key,
        role,
        coalesce(population_groups, '') as population_groups
    from source
)

select * from final
