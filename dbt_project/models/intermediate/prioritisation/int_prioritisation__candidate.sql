-- One prioritisation year, as of a date: every municipality of the universe with
-- its eligibility, indicator values, need percentiles, need score, ranks, tier and selection.
-- The year and the as-of date are the run's parameters (prioritisation_year,
-- prioritisation_as_of_date: macro prioritisation_parameter, from dbt's --vars or the DAG's
-- environment; the latter defaults to the rule default_as_of of the seed prioritisation_rules). Without a year
-- (an ordinary `dbt build`) the table is empty. Built (in schema intermediate: it is not
-- published) and tested before mart_prioritisation appends it, so a year that fails a check is
-- never written into the snapshot.
{%- set year = prioritisation_parameter('prioritisation_year') %}
{%- set as_of_date = prioritisation_parameter('prioritisation_as_of_date') %}
{#- The indicators of the need score, in the order of the output's columns, each with the values
    that mean more need: the one list every pivot below is generated from (the seed
    prioritisation_weights weighs the same names). #}
{%- set indicators = {'mdm': 'lower', 'idf': 'lower', 'imrc': 'higher', 'ipm': 'higher'} %}

with municipalities as (
    select * from {{ ref('dim_municipality') }}
),

indicators as (
    select * from {{ ref('fct_municipal_indicator') }}
),

goals as (
    select * from {{ ref('int_goals__resolved') }}
),

weights as (
    select * from {{ ref('prioritisation_weights') }}
),

rules as (
    select * from {{ ref('prioritisation_rules') }}
),

rule_values as (
    select
        max(value) filter (where rule = 'eligible_categories') as eligible_categories,
        max(value) filter (where rule = 'pdet_eligible') as pdet_eligible,
        max(value) filter (where rule = 'imrc_component') as imrc_component,
        max(value) filter (where rule = 'default_as_of') as default_as_of
    from rules
),

settings as (
    select
        {{ year if year is not none else 'null' }}::integer as prioritisation_year,
        coalesce(
            {{ "'" ~ as_of_date ~ "'" if as_of_date is not none else 'null' }}::date,
            make_date(
                {{ year if year is not none else 'null' }}::integer,
                split_part(default_as_of, '-', 1)::integer,
                split_part(default_as_of, '-', 2)::integer
            )
        ) as as_of_date,
        string_to_array(upper(replace(eligible_categories, ' ', '')), ',') as eligible_categories,
        lower(trim(pdet_eligible)) = 'true' as pdet_eligible,
        lower(trim(imrc_component)) as imrc_component
    from rule_values
),

universe as (
    select
        municipalities.municipality_id,
        municipalities.municipality_name,
        municipalities.department_id,
        municipalities.department_name,
        municipalities.directorate_id,
        coalesce(municipalities.is_pdet, false) as is_pdet,
        settings.prioritisation_year as year
    from municipalities
    cross join settings
    where
        municipalities.entity_type in ('municipio', 'isla')
        and settings.prioritisation_year is not null
),

-- Point in time: only what was published on or before the as-of date.
published as (
    select indicators.*
    from indicators
    cross join settings
    where indicators.published_on <= settings.as_of_date
),

category_rows as (
    select * from published
    where indicator = 'category'
),

category as (
    {{ category_in_force('category_rows', 'universe') }}
),

-- Per municipality and indicator, the latest year published by the as-of date.
latest as (
    select distinct on (municipality_id, indicator)
        municipality_id,
        indicator,
        year,
        value::double precision as value
    from published
    where indicator in ('mdm', 'idf', 'imrc_exceso', 'imrc_deficit', 'ipm') and value is not null
    order by municipality_id asc, indicator asc, year desc
),

imrc_exceso as (
    select * from latest
    where indicator = 'imrc_exceso'
),

imrc_deficit as (
    select * from latest
    where indicator = 'imrc_deficit'
),

-- IMRC: the larger of excess and deficit of rain, unless the rule imrc_component says otherwise.
imrc as (
    select
        coalesce(imrc_exceso.municipality_id, imrc_deficit.municipality_id) as municipality_id,
        case settings.imrc_component
            when 'exceso' then imrc_exceso.value
            when 'deficit' then imrc_deficit.value
            else greatest(imrc_exceso.value, imrc_deficit.value)
        end as value,
        case
            when settings.imrc_component = 'exceso' then imrc_exceso.year
            when settings.imrc_component = 'deficit' then imrc_deficit.year
            when imrc_deficit.value is null or imrc_exceso.value >= imrc_deficit.value then imrc_exceso.year
            else imrc_deficit.year
        end as year
    from imrc_exceso
    full outer join imrc_deficit on imrc_exceso.municipality_id = imrc_deficit.municipality_id
    cross join settings
),

-- Need-oriented values: higher means more need.
indicator_values as (
    {%- for i, more_need in indicators.items() %}
    select
        municipality_id,
        '{{ i }}' as indicator,
        value,
        year,
        {{ '100 - value' if more_need == 'lower' else 'value' }} as need
    {%- if i == 'imrc' %}
    from imrc  -- the larger of excess and deficit (above)
    where value is not null
    {%- else %}
    from latest
    where indicator = '{{ i }}'
    {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

eligibility as (
    select
        universe.*,
        category.category,
        category.category_year,
        settings.pdet_eligible and universe.is_pdet as by_pdet,
        coalesce(category.category = any(settings.eligible_categories), false) as by_category
    from universe
    cross join settings
    left join category on universe.municipality_id = category.municipality_id
),

-- Percentile among the eligible municipalities that have the indicator (SQL percent_rank ties).
-- Indicators absent from the weights seed weigh 0.
eligible_values as (
    select
        indicator_values.municipality_id,
        indicator_values.indicator,
        coalesce(weights.weight, 0)::double precision as weight,
        100 * percent_rank() over (
            partition by indicator_values.indicator order by indicator_values.need
        ) as percentile
    from indicator_values
    inner join eligibility on indicator_values.municipality_id = eligibility.municipality_id
    left join weights on indicator_values.indicator = lower(trim(weights.indicator))
    where eligibility.by_pdet or eligibility.by_category
),

scores as (
    select
        municipality_id,
        -- Rounded to 1e-9 so that ties do not depend on the order floating-point sums run in
        -- (ranks break them by municipality_id, as DESIGN §6 says).
        round((sum(weight * percentile) / nullif(sum(weight), 0))::numeric, 9)::double precision as need_score,
        sum(weight) as weight_total
    from eligible_values
    group by municipality_id
),

indicator_wide as (
    select
        municipality_id
        {%- for i in indicators %},
        max(value) filter (where indicator = '{{ i }}') as {{ i }}_value,
        max(year) filter (where indicator = '{{ i }}') as {{ i }}_year{% endfor %}
    from indicator_values
    group by municipality_id
),

-- Each indicator's share of the need score: weight x percentile / the municipality's weight total.
contributions as (
    select
        eligible_values.municipality_id,
        eligible_values.indicator,
        eligible_values.percentile,
        eligible_values.weight * eligible_values.percentile / nullif(scores.weight_total, 0) as contribution
    from eligible_values
    inner join scores on eligible_values.municipality_id = scores.municipality_id
),

percentile_wide as (
    select
        municipality_id
        {%- for i in indicators %},
        max(percentile) filter (where indicator = '{{ i }}') as {{ i }}_percentile,
        max(contribution) filter (where indicator = '{{ i }}') as {{ i }}_contribution{% endfor %}
    from contributions
    group by municipality_id
),

directorate_goals as (
    select
        goals.directorate_id,
        sum(goals.goal)::integer as directorate_goal
    from goals
    inner join settings on goals.goal_year = settings.prioritisation_year
    group by goals.directorate_id
),

scored as (
    select
        eligibility.*,
        eligibility.by_pdet or eligibility.by_category as is_eligible,
        {%- for i in indicators %}
        indicator_wide.{{ i }}_value,
        indicator_wide.{{ i }}_year,
        percentile_wide.{{ i }}_percentile,
        percentile_wide.{{ i }}_contribution,
        {%- endfor %}
        scores.need_score,
        coalesce(directorate_goals.directorate_goal, 0) as directorate_goal
    from eligibility
    left join indicator_wide on eligibility.municipality_id = indicator_wide.municipality_id
    left join percentile_wide on eligibility.municipality_id = percentile_wide.municipality_id
    left join scores on eligibility.municipality_id = scores.municipality_id
    left join directorate_goals on eligibility.directorate_id = directorate_goals.directorate_id
),

ranked as (
    select
        scored.*,
        case when scored.is_eligible then row_number() over (
            partition by scored.is_eligible order by scored.need_score desc nulls last, scored.municipality_id asc
        ) end::integer as national_rank,
        case when scored.is_eligible then row_number() over (
            partition by scored.is_eligible, scored.directorate_id
            order by scored.need_score desc nulls last, scored.municipality_id asc
        ) end::integer as directorate_rank,
        case when scored.is_eligible then ntile(5) over (
            partition by scored.is_eligible order by scored.need_score desc nulls last, scored.municipality_id asc
        ) end as tier
    from scored
),

final as (
    select
        ranked.year as prioritisation_year,
        ranked.municipality_id,
        settings.as_of_date,
        ranked.municipality_name,
        ranked.department_id,
        ranked.department_name,
        ranked.directorate_id,
        ranked.is_pdet,
        ranked.category,
        ranked.category_year,
        ranked.is_eligible,
        case
            when ranked.by_pdet and ranked.by_category then 'PDET y categoría ' || ranked.category
            when ranked.by_pdet then 'PDET'
            when ranked.by_category then 'Categoría ' || ranked.category
            when ranked.category is null then 'No elegible: no es PDET y no tiene categoría certificada'
            else 'No elegible: no es PDET y es de categoría ' || ranked.category
        end as eligibility_reason,
        {%- for i in indicators %}
        ranked.{{ i }}_value,
        ranked.{{ i }}_year,
        ranked.{{ i }}_percentile,
        ranked.{{ i }}_contribution,
        {%- endfor %}
        concat_ws(
            ', ',
            {%- for i in indicators %}
            case when ranked.{{ i }}_value is null then '{{ i }}' end{{ ',' if not loop.last }}
            {%- endfor %}
        ) as indicators_missing,
        ranked.need_score,
        ranked.national_rank,
        ranked.directorate_rank,
        ranked.tier,
        ranked.directorate_goal,
        coalesce(ranked.is_eligible and ranked.directorate_rank <= ranked.directorate_goal, false) as is_selected
    from ranked
    cross join settings
)

select * from final
