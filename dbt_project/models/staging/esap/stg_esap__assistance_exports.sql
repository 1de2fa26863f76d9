with source as (
    select * from {{ source('esap', 'esap_asistencias') }}
),

final as (
    select
        assistance_id,
        export_date::date as export_date,
        goal_year::integer as goal_year,
        directorate as directorate_name,
        municipality_code as municipality_id,
        thematic_line as thematic_line_name,
        team as team_name,
        status,
        agreed_date::date as agreed_date,
        action_plan_date::date as action_plan_date,
        due_date::date as due_date,
        delivered_date::date as delivered_date,
        product as delivered_product,
        public_servants::integer as public_servants,
        students::integer as students,
        quality_score::integer as quality_score,
        satisfaction_score::integer as satisfaction_score,
        observations
    from source
)

select * from final
