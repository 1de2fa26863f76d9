-- One row per team (artist) and year: the teams named by the assistances and by the equipos
-- rosters, with composition counts under statistical disclosure control (see _monitoring__models.yml):
--   R1 every count below var('suppression_threshold') (5), zero included, is null;
--   R2 members = professionals + students: both parts are published only when both reach the
--      threshold (a published total minus one published part would reveal the other);
--   R3 a group count is published only when the members outside the group also reach the
--      threshold (members − group would otherwise reveal a small count).
-- The column loops put the comma before each item and close on the last item's line: a trailing
-- comma written as a conditional (if not loop.last) leaves the lint (sqlfluff LT02) unable to place it.
{%- set groups = ['afro', 'indigenous', 'lgbtiq', 'migrant', 'conflict_victim', 'disability'] %}
{%- set t = var('suppression_threshold') %}

with members as (
    select * from {{ ref('int_team_members__resolved') }}
),

facts as (
    select * from {{ ref('fct_technical_assistance') }}
),

rosters as (
    select
        team_id,
        min(team_name) as team_name,
        min(directorate_id) as directorate_id,
        min(goal_year) as year,
        count(*) as members_n,
        count(*) filter (where is_professional) as professionals_n,
        count(*) filter (where is_student) as students_n
        {%- for g in groups %},
        count(*) filter (where is_{{ g }}) as {{ g }}_n{% endfor %}
    from members
    where directorate_id is not null
    group by team_id
),

assisting as (
    select
        team_id,
        min(trim(team_name)) as team_name,
        min(directorate_id) as directorate_id,
        min(goal_year) as year,
        count(*) as assistances
    from facts
    where team_name is not null and trim(team_name) <> ''
    group by team_id
),

teams as (
    select
        coalesce(rosters.team_id, assisting.team_id) as team_id,
        coalesce(rosters.team_name, assisting.team_name) as team_name,
        coalesce(rosters.directorate_id, assisting.directorate_id) as directorate_id,
        coalesce(rosters.year, assisting.year) as year,
        rosters.team_id is not null as has_roster,
        coalesce(assisting.assistances, 0) as assistances,
        rosters.members_n,
        rosters.professionals_n,
        rosters.students_n
        {%- for g in groups %},
        rosters.{{ g }}_n{% endfor %}
    from rosters
    full outer join assisting on rosters.team_id = assisting.team_id
),

final as (
    select
        team_id,
        team_name,
        directorate_id,
        year,
        has_roster,
        assistances,
        case when members_n >= {{ t }} then members_n end as members,
        case when professionals_n >= {{ t }} and students_n >= {{ t }} then professionals_n end as professionals,
        case when professionals_n >= {{ t }} and students_n >= {{ t }} then students_n end as students,
        {%- for g in groups %}
        case when {{ g }}_n >= {{ t }} and members_n - {{ g }}_n >= {{ t }} then {{ g }}_n end as group_{{ g }},
        {%- endfor %}
        has_roster and (
            members_n < {{ t }} or professionals_n < {{ t }} or students_n < {{ t }}
            {%- for g in groups %}
            or {{ g }}_n < {{ t }} or members_n - {{ g }}_n < {{ t }}
            {%- endfor %}
        ) as has_suppressed_cells
    from teams
)

select * from final
