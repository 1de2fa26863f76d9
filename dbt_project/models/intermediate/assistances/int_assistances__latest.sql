-- The latest export wins per assistance: one row per assistance_id, as last reported, with the
-- seeds' keys resolved from the names users type.
with exports as (
    select * from {{ ref('stg_esap__assistance_exports') }}
),

directorates as (
    {{ seed_keys('territorial_directorates', 'directorate') }}
),

lines as (
    {{ seed_keys('thematic_lines', 'thematic_line') }}
),

ranked as (
    select
        *,
        row_number() over (partition by assistance_id order by export_date desc) as export_rank,
        count(*) over (partition by assistance_id) as exports_seen
    from exports
),

final as (
    select
        ranked.assistance_id,
        ranked.export_date as last_export_date,
        ranked.exports_seen,
        ranked.goal_year,
        ranked.municipality_id,
        directorates.directorate_id,
        lines.thematic_line_id,
        ranked.team_name,
        ranked.status,
        ranked.agreed_date,
        ranked.action_plan_date,
        ranked.due_date,
        ranked.delivered_date,
        ranked.delivered_product,
        ranked.public_servants,
        ranked.students,
        ranked.quality_score,
        ranked.satisfaction_score
    from ranked
    left join directorates
        on {{ normalise_text('ranked.directorate_name') }} = directorates.match_key
    left join lines
        on {{ normalise_text('ranked.thematic_line_name') }} = lines.match_key
    where ranked.export_rank = 1
)

select * from final
