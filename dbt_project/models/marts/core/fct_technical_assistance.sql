-- One row per assistance (song), as of the latest export that reported it.
with assistances as (
    select * from {{ ref('int_assistances__latest') }}
),

final as (
    select
        assistance_id,
        municipality_id,
        directorate_id,
        thematic_line_id,
        directorate_id || '-' || goal_year || '-' || left(md5(lower(trim(team_name))), 8) as team_id,
        team_name,
        goal_year,
        status,
        agreed_date,
        action_plan_date,
        due_date,
        delivered_date,
        status = 'Entregada' as is_delivered,
        case when status = 'Entregada' then delivered_date <= due_date end as is_on_time,
        case when status = 'Entregada' then delivered_date - agreed_date end as days_to_deliver,
        quality_score,
        satisfaction_score,
        public_servants,
        students,
        last_export_date,
        exports_seen
    from assistances
)

select * from final
