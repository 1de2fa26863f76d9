{#-
    Leaderboard points of a directorate in a year (DESIGN.md §6), from dbt vars (dbt_project.yml):
      points = playlist_points_per_delivered × delivered
             + playlist_on_time_bonus × on-time deliveries
             + playlist_quality_bonus × Σ over deliveries of max(quality_score − playlist_quality_baseline, 0)
             + playlist_goal_bonus when the goal (playlist) is met (goal > 0 and delivered ≥ goal)
-#}
{% macro playlist_points(delivered, on_time, quality_above_baseline, goal) -%}
    (
        {{ var('playlist_points_per_delivered') }} * {{ delivered }}
        + {{ var('playlist_on_time_bonus') }} * {{ on_time }}
        + {{ var('playlist_quality_bonus') }} * {{ quality_above_baseline }}
        + case when {{ goal }} > 0 and {{ delivered }} >= {{ goal }}
            then {{ var('playlist_goal_bonus') }} else 0 end
    )
{%- endmacro %}
