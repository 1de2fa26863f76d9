-- Person level and sensitive: built in the `restricted` schema. One row per person, team and year,
-- with the seeds' keys resolved, the team key of fct_technical_assistance and one flag per group.
{{ config(schema='restricted') }}

{%- set groups = ['afro', 'indigenous', 'lgbtiq', 'migrant', 'conflict_victim', 'disability'] %}

with members as (
    select * from {{ ref('stg_esap__team_members') }}
),

directorates as (
    {{ seed_keys('territorial_directorates', 'directorate') }}
),

resolved as (
    select
        members.goal_year,
        directorates.directorate_id,
        trim(members.team_name) as team_name,
        members.person_key,
        members.role,
        string_to_array(nullif(members.population_groups, ''), ';') as group_codes
    from members
    left join directorates
        on {{ normalise_text('members.directorate_name') }} = directorates.match_key
),

final as (
    select
        {{ team_id('directorate_id', 'goal_year', 'team_name') }} as team_id,
        goal_year,
        directorate_id,
        team_name,
        person_key,
        role,
        role = 'profesional' as is_professional,
        role = 'estudiante' as is_student,
        {%- for g in groups %}
        coalesce('{{ g }}' = any(group_codes), false) as is_{{ g }},
        {%- endfor %}
        coalesce(cardinality(group_codes), 0) > 0 as is_underrepresented
    from resolved
)

select * from final
