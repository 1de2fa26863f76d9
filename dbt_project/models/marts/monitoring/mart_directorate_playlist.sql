-- The leaderboard: one row per year and territorial directorate (record label) against its goal
-- (the playlist). On time and points as _monitoring__models.yml documents them; the rule (var playlist_scoring:
-- relative to the goal by default, or absolute) is macros/playlist_points.sql.
with facts as (
    select * from {{ ref('fct_technical_assistance') }}
),

goals as (
    select * from {{ ref('int_goals__resolved') }}
),

directorates as (
    select * from {{ ref('dim_territorial_directorate') }}
),

goal_totals as (
    select
        goal_year as year,
        directorate_id,
        sum(goal) as goal
    from goals
    where directorate_id is not null
    group by goal_year, directorate_id
),

years as (
    select goal_year as year from facts
    union
    select year from goal_totals
),

grid as (
    select
        years.year,
        directorates.directorate_id
    from years
    cross join directorates
),

tallies as (
    select
        goal_year as year,
        directorate_id,
        count(*) filter (where is_delivered) as delivered,
        count(*) filter (where status not in ('Entregada', 'Cancelada')) as in_progress,
        count(*) filter (where status = 'Cancelada') as cancelled,
        count(*) filter (where is_delivered and is_on_time) as delivered_on_time,
        avg(quality_score) filter (where is_delivered) as mean_quality,
        avg(satisfaction_score) filter (where is_delivered) as mean_satisfaction,
        coalesce(
            sum(greatest(quality_score - {{ var('playlist_quality_baseline') }}, 0)) filter (where is_delivered), 0
        ) as quality_above_baseline
    from facts
    group by goal_year, directorate_id
),

scored as (
    select
        grid.year,
        grid.directorate_id,
        goal_totals.goal,
        coalesce(tallies.delivered, 0) as delivered,
        coalesce(tallies.in_progress, 0) as in_progress,
        coalesce(tallies.cancelled, 0) as cancelled,
        coalesce(tallies.delivered_on_time, 0) as delivered_on_time,
        round(tallies.delivered_on_time::numeric / nullif(tallies.delivered, 0), 4) as on_time_rate,
        round(tallies.mean_quality, 4) as mean_quality,
        round(tallies.mean_satisfaction, 4) as mean_satisfaction,
        round(coalesce(tallies.delivered, 0)::numeric / nullif(goal_totals.goal, 0), 4) as goal_completion,
        {{ playlist_points(
            'coalesce(tallies.delivered, 0)',
            'coalesce(tallies.delivered_on_time, 0)',
            'coalesce(tallies.quality_above_baseline, 0)',
            'goal_totals.goal',
            'tallies.mean_quality'
        ) }} as points,
        '{{ var("playlist_scoring") }}' as scoring_rule
    from grid
    left join goal_totals
        on grid.year = goal_totals.year and grid.directorate_id = goal_totals.directorate_id
    left join tallies
        on grid.year = tallies.year and grid.directorate_id = tallies.directorate_id
),

final as (
    select
        *,
        row_number() over (
            partition by year
            order by points desc, on_time_rate desc nulls last, mean_quality desc nulls last, directorate_id asc
        ) as rank
    from scored
)

select * from final
