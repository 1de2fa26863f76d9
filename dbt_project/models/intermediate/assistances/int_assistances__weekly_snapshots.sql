-- The assistances as they stood at each export week: one row per export week and assistance, the
-- assistance as reported by its newest export on or before the last export of that week (the
-- week's as-of date). As in fct_technical_assistance, an assistance missing from a later export
-- keeps its last reported row. Directorate and thematic line are resolved to seed keys as in
-- int_assistances__latest, so the latest week matches the fact table row for row.
with exports as (
    select * from {{ ref('stg_esap__assistance_exports') }}
),

directorates as (
    {{ seed_keys('territorial_directorates', 'directorate') }}
),

lines as (
    {{ seed_keys('thematic_lines', 'thematic_line') }}
),

weeks as (
    select
        date_trunc('week', export_date)::date as export_week,
        max(export_date) as as_of_date
    from exports
    group by date_trunc('week', export_date)::date
),

reported as (
    select
        *,
        lead(export_date) over (partition by assistance_id order by export_date) as next_export_date
    from exports
),

final as (
    select
        weeks.export_week,
        weeks.as_of_date,
        reported.assistance_id,
        reported.export_date as reported_on,
        reported.goal_year,
        reported.municipality_id,
        directorates.directorate_id,
        lines.thematic_line_id,
        reported.team_name,
        reported.status,
        reported.agreed_date,
        reported.action_plan_date,
        reported.due_date,
        reported.delivered_date,
        reported.satisfaction_score
    from weeks
    inner join reported
        on
            weeks.as_of_date >= reported.export_date
            and (weeks.as_of_date < reported.next_export_date or reported.next_export_date is null)
    left join directorates
        on {{ normalise_text('reported.directorate_name') }} = directorates.match_key
    left join lines
        on {{ normalise_text('reported.thematic_line_name') }} = lines.match_key
)

select * from final
