-- One row per assistance (song), as of the latest export that reported it.
-- Incremental on export batches: a run reads only the assistances whose latest export is on or
-- after the newest export already in the table (the newest one again, so a corrected re-export of
-- the same day is picked up), and replaces those rows by assistance_id. An assistance missing from
-- a later export keeps its row. The table lives in marts_build, which persists between runs;
-- `dbt build --full-refresh` rebuilds it from every export. A column change stops the run
-- (on_schema_change fail) rather than leaving old rows with empty new columns: rebuild with
-- --full-refresh after changing the columns.
{{
    config(
        materialized='incremental',
        unique_key='assistance_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}

with assistances as (
    select * from {{ ref('int_assistances__latest') }}
    {% if is_incremental() %}
    where last_export_date >= (select max(this_table.last_export_date) from {{ this }} as this_table)
    {% endif %}
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
