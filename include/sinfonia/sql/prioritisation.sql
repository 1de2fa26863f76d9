-- One year's prioritisation snapshot (DESIGN.md §6), computed as of %(as_of_date)s.
-- Parameters: year, as_of_date, w_<indicator> (weights), eligible_categories (text[]),
-- pdet_eligible (boolean), imrc_component ('max', 'exceso' or 'deficit').
-- The per-indicator column lists in braces are expanded by prioritisation.py (mdm, idf, imrc, ipm).
with universe as (
    select
        municipality_id,
        municipality_name,
        department_id,
        department_name,
        directorate_id,
        coalesce(is_pdet, false) as is_pdet
    from marts.dim_municipality
    where entity_type in ('municipio', 'isla')
),

-- Point in time: only what was published on or before the as-of date.
published as (
    select *
    from marts.fct_municipal_indicator
    where published_on <= %(as_of_date)s::date
),

-- The category in force: the latest certified year not after the prioritisation year.
category as (
    select distinct on (municipality_id)
        municipality_id,
        value_label as category,
        year as category_year
    from published
    where indicator = 'category' and year <= %(year)s::integer and value_label is not null
    order by municipality_id, year desc
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
    order by municipality_id, indicator, year desc
),

imrc as (
    select
        coalesce(exceso.municipality_id, deficit.municipality_id) as municipality_id,
        case %(imrc_component)s::text
            when 'exceso' then exceso.value
            when 'deficit' then deficit.value
            else greatest(exceso.value, deficit.value)
        end as value,
        case %(imrc_component)s::text
            when 'exceso' then exceso.year
            when 'deficit' then deficit.year
            else case when deficit.value is null or exceso.value >= deficit.value then exceso.year else deficit.year end
        end as year
    from (select * from latest where indicator = 'imrc_exceso') as exceso
    full join (select * from latest where indicator = 'imrc_deficit') as deficit
        on exceso.municipality_id = deficit.municipality_id
),

-- Need-oriented values: higher means more need.
indicator_values as (
    select municipality_id, 'mdm' as indicator, value, year, 100 - value as need
    from latest where indicator = 'mdm'
    union all
    select municipality_id, 'idf', value, year, 100 - value
    from latest where indicator = 'idf'
    union all
    select municipality_id, 'imrc', value, year, value
    from imrc where value is not null
    union all
    select municipality_id, 'ipm', value, year, value
    from latest where indicator = 'ipm'
),

weights as (
    select *
    from (values
        ('mdm', %(w_mdm)s::double precision),
        ('idf', %(w_idf)s::double precision),
        ('imrc', %(w_imrc)s::double precision),
        ('ipm', %(w_ipm)s::double precision)
    ) as w (indicator, weight)
),

eligibility as (
    select
        universe.*,
        category.category,
        category.category_year,
        (%(pdet_eligible)s::boolean and universe.is_pdet) as by_pdet,
        coalesce(category.category = any(%(eligible_categories)s::text[]), false) as by_category
    from universe
    left join category on universe.municipality_id = category.municipality_id
),

-- Percentile among the eligible municipalities that have the indicator (SQL percent_rank ties).
eligible_values as (
    select
        indicator_values.municipality_id,
        indicator_values.indicator,
        weights.weight,
        100 * percent_rank() over (
            partition by indicator_values.indicator order by indicator_values.need
        ) as percentile
    from indicator_values
    inner join eligibility on indicator_values.municipality_id = eligibility.municipality_id
    inner join weights on indicator_values.indicator = weights.indicator
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
        municipality_id as indicator_municipality_id,
        {indicator_columns}
    from indicator_values
    group by municipality_id
),

percentile_wide as (
    select
        eligible_values.municipality_id as percentile_municipality_id,
        {percentile_columns}
    from eligible_values
    inner join scores on eligible_values.municipality_id = scores.municipality_id
    group by eligible_values.municipality_id
),

goals as (
    select
        directorate_id,
        sum(goal)::integer as directorate_goal
    from intermediate.int_goals__resolved
    where goal_year = %(year)s::integer
    group by directorate_id
),

scored as (
    select
        eligibility.*,
        eligibility.by_pdet or eligibility.by_category as is_eligible,
        indicator_wide.*,
        percentile_wide.*,
        scores.need_score,
        coalesce(goals.directorate_goal, 0) as directorate_goal
    from eligibility
    left join indicator_wide on eligibility.municipality_id = indicator_wide.indicator_municipality_id
    left join percentile_wide on eligibility.municipality_id = percentile_wide.percentile_municipality_id
    left join scores on eligibility.municipality_id = scores.municipality_id
    left join goals on eligibility.directorate_id = goals.directorate_id
),

ranked as (
    select
        scored.*,
        case when is_eligible then row_number() over (
            partition by is_eligible order by need_score desc nulls last, municipality_id
        ) end as national_rank,
        case when is_eligible then row_number() over (
            partition by is_eligible, directorate_id order by need_score desc nulls last, municipality_id
        ) end as directorate_rank,
        case when is_eligible then ntile(5) over (
            partition by is_eligible order by need_score desc nulls last, municipality_id
        ) end as tier
    from scored
),

final as (
    select
        %(year)s::integer as prioritisation_year,
        municipality_id,
        %(as_of_date)s::date as as_of_date,
        municipality_name,
        department_id,
        department_name,
        directorate_id,
        is_pdet,
        category,
        category_year,
        is_eligible,
        case
            when by_pdet and by_category then 'PDET y categoría ' || category
            when by_pdet then 'PDET'
            when by_category then 'Categoría ' || category
            when category is null then 'No elegible: no es PDET y no tiene categoría certificada'
            else 'No elegible: no es PDET y es de categoría ' || category
        end as eligibility_reason,
        mdm_value, mdm_year, mdm_percentile, mdm_contribution,
        idf_value, idf_year, idf_percentile, idf_contribution,
        imrc_value, imrc_year, imrc_percentile, imrc_contribution,
        ipm_value, ipm_year, ipm_percentile, ipm_contribution,
        {missing_list} as indicators_missing,
        need_score,
        national_rank,
        directorate_rank,
        tier,
        directorate_goal,
        coalesce(is_eligible and directorate_rank <= directorate_goal, false) as is_selected
    from ranked
)

select * from final
