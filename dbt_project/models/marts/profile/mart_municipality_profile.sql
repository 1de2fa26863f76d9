-- The characterisation sheet of a municipality (`sinfonia ficha`), one row per prioritisation year
-- and municipality: everything a team needs before its first visit, so that BI tools show what the
-- sheet shows. For each year of mart_prioritisation, with what was published by that year's as-of
-- date: identity; each indicator's latest value, the previous one and the change, and its position
-- among the municipalities of the same capacity group (median and percentile, same indicator and
-- year); the need score with its contributions, ranks and selection; ESAP's assistances up to that
-- goal year by thematic line and state; and the thematic lines suggested by the rule table
-- seeds/line_suggestion_rules.csv (edited by the planning office), each with the values that
-- triggered it. A rule whose indicator a municipality lacks suggests nothing.
{%- set indicators = var('profile_indicators') %}

with snapshot as (
    select * from {{ ref('mart_prioritisation') }}
),

municipalities as (
    select * from {{ ref('dim_municipality') }}
),

directorates as (
    select * from {{ ref('dim_territorial_directorate') }}
),

indicators as (
    select * from {{ ref('fct_municipal_indicator') }}
),

assistances as (
    select * from {{ ref('fct_technical_assistance') }}
),

lines as (
    select * from {{ ref('dim_thematic_line') }}
),

rules as (
    select * from {{ ref('line_suggestion_rules') }}
),

years as (
    select distinct
        prioritisation_year,
        as_of_date
    from snapshot
),

-- Every value of a profile indicator published by the year's as-of date, up to that year.
published as (
    select
        years.prioritisation_year,
        indicators.municipality_id,
        indicators.indicator,
        indicators.year,
        indicators.value::double precision as value,
        municipalities.capacity_group
    from years
    inner join indicators
        on
            years.as_of_date >= indicators.published_on
            and years.prioritisation_year >= indicators.year
    inner join municipalities on indicators.municipality_id = municipalities.municipality_id
    where
        indicators.indicator in (
            '{{ indicators | join("', '") }}'
        )
        and indicators.value is not null
),

peer_median as (
    select
        prioritisation_year,
        indicator,
        year,
        capacity_group,
        percentile_cont(0.5) within group (order by value) as peer_median,
        count(*) as peers
    from published
    where capacity_group is not null
    group by prioritisation_year, indicator, year, capacity_group
),

-- Each value with its recency, the value before it, and its position among the capacity-group
-- peers (same indicator and year), in one pass of window functions: joining these back to the
-- published values made the planner, which cannot estimate a filtered window, loop over a billion
-- row pairs (90 s on the 1x sample).
by_recency as (
    select
        published.*,
        row_number() over by_year as recency,
        lead(published.value) over by_year as previous_value,
        lead(published.year) over by_year as previous_year,
        case
            when published.capacity_group is not null
                then 100 * percent_rank() over (
                    partition by
                        published.prioritisation_year, published.indicator, published.year, published.capacity_group
                    order by published.value
                )
        end as peer_percentile
    from published
    window by_year as (
        partition by published.prioritisation_year, published.municipality_id, published.indicator
        order by published.year desc
    )
),

indicator_profile as (
    select
        latest.prioritisation_year,
        latest.municipality_id,
        latest.indicator,
        latest.value,
        latest.year,
        latest.previous_value,
        latest.previous_year,
        latest.value - latest.previous_value as change,
        peer_median.peer_median,
        latest.peer_percentile
    from by_recency as latest
    left join peer_median
        on
            latest.prioritisation_year = peer_median.prioritisation_year
            and latest.indicator = peer_median.indicator
            and latest.year = peer_median.year
            and latest.capacity_group = peer_median.capacity_group
    where latest.recency = 1
),

indicator_wide as (
    select
        prioritisation_year,
        municipality_id
        {%- for i in indicators %},
        max(value) filter (where indicator = '{{ i }}') as {{ i }}_value,
        max(year) filter (where indicator = '{{ i }}') as {{ i }}_year,
        max(change) filter (where indicator = '{{ i }}') as {{ i }}_change,
        max(peer_median) filter (where indicator = '{{ i }}') as {{ i }}_peer_median,
        max(peer_percentile) filter (where indicator = '{{ i }}') as {{ i }}_peer_percentile{% endfor %}
    from indicator_profile
    group by prioritisation_year, municipality_id
),

-- A rule fires when the municipality has the indicator and its peer percentile is on the rule's side.
suggestions as (
    select
        indicator_profile.prioritisation_year,
        indicator_profile.municipality_id,
        rules.rule_id,
        rules.thematic_line_id,
        lines.thematic_line_name,
        rules.reason,
        indicator_profile.indicator,
        indicator_profile.value,
        indicator_profile.year,
        indicator_profile.peer_median,
        indicator_profile.peer_percentile
    from indicator_profile
    inner join rules on indicator_profile.indicator = rules.indicator
    left join lines on rules.thematic_line_id = lines.thematic_line_id
    where
        (rules.direction = 'low' and indicator_profile.peer_percentile <= rules.peer_percentile_threshold)
        or (rules.direction = 'high' and indicator_profile.peer_percentile >= rules.peer_percentile_threshold)
),

suggestions_agg as (
    select
        prioritisation_year,
        municipality_id,
        string_agg(distinct thematic_line_id, ', ' order by thematic_line_id) as suggested_line_ids,
        jsonb_agg(
            jsonb_build_object(
                'rule_id', rule_id,
                'thematic_line_id', thematic_line_id,
                'thematic_line_name', thematic_line_name,
                'reason', reason,
                'indicator', indicator,
                'value', round(value::numeric, 4),
                'year', year,
                'peer_median', round(peer_median::numeric, 4),
                'peer_percentile', round(peer_percentile::numeric, 2)
            ) order by thematic_line_id, rule_id
        ) as suggestions
    from suggestions
    group by prioritisation_year, municipality_id
),

-- ESAP's assistances up to the profile year (goal years), by thematic line and state.
assistance_rows as (
    select
        years.prioritisation_year,
        assistances.*
    from years
    inner join assistances on years.prioritisation_year >= assistances.goal_year
),

line_states as (
    select
        prioritisation_year,
        municipality_id,
        thematic_line_id,
        jsonb_object_agg(status, n order by status) as states
    from (
        select
            prioritisation_year,
            municipality_id,
            coalesce(thematic_line_id, 'sin línea') as thematic_line_id,
            status,
            count(*) as n
        from assistance_rows
        group by prioritisation_year, municipality_id, coalesce(thematic_line_id, 'sin línea'), status
    ) as counted
    group by prioritisation_year, municipality_id, thematic_line_id
),

assistance_agg as (
    select
        prioritisation_year,
        municipality_id,
        count(*) as assistances_total,
        count(*) filter (where is_delivered) as assistances_delivered,
        count(*) filter (where status = 'Cancelada') as assistances_cancelled,
        count(*) filter (where not is_delivered and status <> 'Cancelada') as assistances_in_progress,
        max(coalesce(delivered_date, action_plan_date, agreed_date)) as last_assistance_date,
        avg(satisfaction_score)::double precision as mean_satisfaction
    from assistance_rows
    group by prioritisation_year, municipality_id
),

assistance_lines as (
    select
        prioritisation_year,
        municipality_id,
        jsonb_object_agg(thematic_line_id, states order by thematic_line_id) as assistances_by_line
    from line_states
    group by prioritisation_year, municipality_id
),

final as (
    select
        snapshot.prioritisation_year,
        snapshot.municipality_id,
        snapshot.as_of_date,
        municipalities.municipality_name,
        municipalities.department_id,
        municipalities.department_name,
        snapshot.directorate_id,
        directorates.directorate_name,
        municipalities.is_pdet,
        municipalities.pdet_subregion,
        snapshot.category,
        municipalities.capacity_group,
        snapshot.is_eligible,
        snapshot.eligibility_reason,
        snapshot.need_score,
        snapshot.mdm_contribution,
        snapshot.idf_contribution,
        snapshot.imrc_contribution,
        snapshot.ipm_contribution,
        snapshot.indicators_missing,
        snapshot.national_rank,
        snapshot.directorate_rank,
        snapshot.tier,
        snapshot.is_selected,
        {%- for i in indicators %}
        indicator_wide.{{ i }}_value,
        indicator_wide.{{ i }}_year,
        indicator_wide.{{ i }}_change,
        indicator_wide.{{ i }}_peer_median,
        indicator_wide.{{ i }}_peer_percentile,
        {%- endfor %}
        coalesce(assistance_agg.assistances_total, 0) as assistances_total,
        coalesce(assistance_agg.assistances_delivered, 0) as assistances_delivered,
        coalesce(assistance_agg.assistances_in_progress, 0) as assistances_in_progress,
        coalesce(assistance_agg.assistances_cancelled, 0) as assistances_cancelled,
        assistance_agg.last_assistance_date,
        assistance_agg.mean_satisfaction,
        coalesce(assistance_lines.assistances_by_line, '{}'::jsonb) as assistances_by_line,
        suggestions_agg.suggested_line_ids,
        coalesce(suggestions_agg.suggestions, '[]'::jsonb) as suggestions
    from snapshot
    inner join municipalities on snapshot.municipality_id = municipalities.municipality_id
    left join directorates on snapshot.directorate_id = directorates.directorate_id
    left join indicator_wide
        on
            snapshot.prioritisation_year = indicator_wide.prioritisation_year
            and snapshot.municipality_id = indicator_wide.municipality_id
    left join assistance_agg
        on
            snapshot.prioritisation_year = assistance_agg.prioritisation_year
            and snapshot.municipality_id = assistance_agg.municipality_id
    left join assistance_lines
        on
            snapshot.prioritisation_year = assistance_lines.prioritisation_year
            and snapshot.municipality_id = assistance_lines.municipality_id
    left join suggestions_agg
        on
            snapshot.prioritisation_year = suggestions_agg.prioritisation_year
            and snapshot.municipality_id = suggestions_agg.municipality_id
)

select * from final
