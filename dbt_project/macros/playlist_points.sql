{#-
    Leaderboard points of a directorate in a year, from dbt vars (dbt_project.yml).
    var('playlist_scoring') picks the rule that `points` (and so `rank`) follows:

    relative (default): each directorate against its own goal, on a 0–100 scale,
      points = 100 × ( w_c × min(delivered / goal, 1)            -- completion of the playlist
                     + w_t × on-time deliveries / deliveries       -- timeliness
                     + w_q × (mean quality − 1) / 4 )              -- quality, 1–5 scaled to 0–1
               / (w_c + w_t + w_q)
      with w_c, w_t, w_q = playlist_weight_completion, _on_time, _quality; a missing part (no
      goal, no delivery) scores 0. A big goal earns nothing by its size.

    absolute: points that grow with the number of songs,
      points = playlist_points_per_delivered × delivered
             + playlist_on_time_bonus × on-time deliveries
             + playlist_quality_bonus × Σ over deliveries of max(quality_score − playlist_quality_baseline, 0)
             + playlist_goal_bonus when the goal (playlist) is met (goal > 0 and delivered ≥ goal)
-#}
{% macro playlist_points(delivered, on_time, quality_above_baseline, goal, mean_quality) -%}
    {%- set scoring = var('playlist_scoring') -%}
    {%- if scoring == 'relative' -%}
        {%- set wc = var('playlist_weight_completion') -%}
        {%- set wt = var('playlist_weight_on_time') -%}
        {%- set wq = var('playlist_weight_quality') -%}
        round(
            100.0 * (
                {{ wc }} * least(coalesce({{ delivered }}::numeric / nullif({{ goal }}, 0), 0), 1)
                + {{ wt }} * coalesce({{ on_time }}::numeric / nullif({{ delivered }}, 0), 0)
                + {{ wq }} * coalesce(({{ mean_quality }} - 1) / 4.0, 0)
            ) / ({{ wc }} + {{ wt }} + {{ wq }}),
            1
        )
    {%- elif scoring == 'absolute' -%}
        (
            {{ var('playlist_points_per_delivered') }} * {{ delivered }}
            + {{ var('playlist_on_time_bonus') }} * {{ on_time }}
            + {{ var('playlist_quality_bonus') }} * {{ quality_above_baseline }}
            + case when {{ goal }} > 0 and {{ delivered }} >= {{ goal }}
                then {{ var('playlist_goal_bonus') }} else 0 end
        )
    {%- else -%}
        {{ exceptions.raise_compiler_error("var('playlist_scoring') must be 'relative' or 'absolute', not '" ~ scoring ~ "'") }}
    {%- endif -%}
{%- endmacro %}
