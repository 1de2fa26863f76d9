-- The current open-work list recounted from fct_technical_assistance: with today = the newest
-- export date in the facts, every assistance neither delivered nor cancelled, and every delivery
-- without satisfaction score for open_work_satisfaction_days or more (when that rule is on), must
-- be a row of the latest week of mart_open_work with the same state, days and flag, and the mart
-- must hold no other row. Returns the differences.
{%- set rules = var('open_work_rules') %}
with facts as (
    select * from {{ ref('fct_technical_assistance') }}
),

open_work as (
    select * from {{ ref('mart_open_work') }}
    where is_latest_week
),

today as (
    select max(last_export_date) as as_of_date from facts
),

expected as (
    select
        facts.assistance_id,
        today.as_of_date,
        facts.directorate_id,
        facts.team_id,
        facts.status,
        case
            when facts.status = 'Entregada' then null
            when facts.due_date >= today.as_of_date then facts.due_date - today.as_of_date
        end as days_left,
        case
            when facts.status = 'Entregada' then null
            when facts.due_date < today.as_of_date then today.as_of_date - facts.due_date
        end as days_overdue,
        case
            {%- if 'overdue' in rules %}
            when facts.status <> 'Entregada' and facts.due_date < today.as_of_date then 'overdue'
            {%- endif %}
            {%- if 'due_soon_without_action_plan' in rules %}
            when
                facts.status <> 'Entregada'
                and facts.due_date - today.as_of_date between 0 and {{ var('open_work_due_soon_days') }}
                and (facts.action_plan_date is null or facts.action_plan_date > today.as_of_date)
                then 'due_soon_without_action_plan'
            {%- endif %}
            {%- if 'delivered_without_satisfaction' in rules %}
            when
                facts.status = 'Entregada' and facts.satisfaction_score is null
                and today.as_of_date - facts.delivered_date >= {{ var('open_work_satisfaction_days') }}
                then 'delivered_without_satisfaction'
            {%- endif %}
        end as flag
    from facts
    cross join today
    where facts.status <> 'Cancelada'
),

expected_rows as (
    select * from expected
    where status <> 'Entregada' or flag is not null
),

final as (
    select
        coalesce(expected_rows.assistance_id, open_work.assistance_id) as assistance_id,
        case
            when open_work.assistance_id is null then 'missing from mart_open_work'
            when expected_rows.assistance_id is null then 'not open work in fct_technical_assistance'
            else 'differs from fct_technical_assistance'
        end as problem
    from expected_rows
    full outer join open_work
        on expected_rows.assistance_id = open_work.assistance_id
    where
        expected_rows.assistance_id is null
        or open_work.assistance_id is null
        or expected_rows.as_of_date <> open_work.as_of_date
        or expected_rows.directorate_id is distinct from open_work.directorate_id
        or expected_rows.team_id is distinct from open_work.team_id
        or expected_rows.status <> open_work.status
        or expected_rows.days_left is distinct from open_work.days_left
        or expected_rows.days_overdue is distinct from open_work.days_overdue
        or expected_rows.flag is distinct from open_work.flag
)

select * from final
