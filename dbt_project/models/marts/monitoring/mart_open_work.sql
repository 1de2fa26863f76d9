-- The operational view: per export week, every assistance neither delivered nor cancelled, plus
-- the deliveries still waiting for their satisfaction score, each with the rule that flags it.
-- "Today" is the week's as-of date (its latest export), so a rebuild gives the same rows.
-- Rules and N are dbt vars (dbt_project.yml), documented in _monitoring__models.yml.
{%- set rules = var('open_work_rules') %}
{%- set due_soon_days = var('open_work_due_soon_days') | int %}
{%- set satisfaction_days = var('open_work_satisfaction_days') | int %}

with snapshots as (
    select * from {{ ref('int_assistances__weekly_snapshots') }}
),

municipalities as (
    select * from {{ ref('dim_municipality') }}
),

lines as (
    select * from {{ ref('dim_thematic_line') }}
),

measured as (
    select
        *,
        status not in ('Entregada', 'Cancelada') as is_open,
        coalesce(action_plan_date <= as_of_date, false) as has_action_plan,
        due_date - as_of_date as days_to_due,
        case when status = 'Entregada' then as_of_date - delivered_date end as days_since_delivery
    from snapshots
),

flagged as (
    select
        *,
        case
            when {{ 'overdue' in rules }} and is_open and days_to_due < 0 then 'overdue'
            when
                {{ 'due_soon_without_action_plan' in rules }}
                and is_open and days_to_due between 0 and {{ due_soon_days }} and not has_action_plan
                then 'due_soon_without_action_plan'
            when
                {{ 'delivered_without_satisfaction' in rules }}
                and status = 'Entregada' and satisfaction_score is null
                and days_since_delivery >= {{ satisfaction_days }}
                then 'delivered_without_satisfaction'
        end as flag
    from measured
),

open_work as (
    select * from flagged
    where is_open or flag is not null
),

final as (
    select
        open_work.export_week,
        open_work.as_of_date,
        open_work.export_week = max(open_work.export_week) over () as is_latest_week,
        open_work.assistance_id,
        open_work.directorate_id,
        {{ team_id('open_work.directorate_id', 'open_work.goal_year', 'open_work.team_name') }} as team_id,
        open_work.team_name,
        open_work.municipality_id,
        municipalities.municipality_name,
        municipalities.department_name,
        open_work.thematic_line_id,
        lines.thematic_line_name,
        open_work.goal_year,
        open_work.status,
        open_work.is_open,
        open_work.action_plan_date,
        open_work.has_action_plan,
        open_work.due_date,
        case when open_work.is_open and open_work.days_to_due >= 0 then open_work.days_to_due end as days_left,
        case when open_work.is_open and open_work.days_to_due < 0 then -open_work.days_to_due end as days_overdue,
        open_work.delivered_date,
        open_work.days_since_delivery,
        open_work.flag,
        case open_work.flag
            when 'overdue' then 'Vencida'
            when 'due_soon_without_action_plan' then 'Vence pronto sin plan de acción'
            when 'delivered_without_satisfaction' then 'Entregada sin calificación de satisfacción'
        end as flag_label,
        row_number() over (
            partition by open_work.export_week, open_work.directorate_id
            order by
                case open_work.flag
                    when 'overdue' then 1
                    when 'due_soon_without_action_plan' then 2
                    when 'delivered_without_satisfaction' then 3
                    else 4
                end asc,
                case when open_work.is_open then open_work.days_to_due end asc nulls last,
                open_work.days_since_delivery desc nulls last,
                open_work.assistance_id asc
        ) as attention_rank
    from open_work
    left join municipalities
        on open_work.municipality_id = municipalities.municipality_id
    left join lines
        on open_work.thematic_line_id = lines.thematic_line_id
)

select * from final
