-- One row per municipality and year: cumulative delivered assistances (counted by the year of
-- delivery), the treatment cohort (first year the count reaches the threshold, var
-- `impact_threshold`, default 5), the dose group, the covariates of the estimator and one column
-- per yearly outcome. The input of the impact estimator (include/sinfonia/impact).
-- The column loops put the comma before each item and close on the last item's line: a trailing
-- comma written as a conditional (if not loop.last) leaves the lint (sqlfluff LT02) unable to place it.
{%- set threshold = var('impact_threshold', 5) %}
{%- set outcomes = ['mdm', 'mdm_gestion', 'mdm_resultados', 'mdm_ordenamiento_territorial', 'idf',
                    'idf_bono_catastro', 'ipm'] %}

with municipalities as (
    select * from {{ ref('dim_municipality') }}
),

assistances as (
    select * from {{ ref('fct_technical_assistance') }}
),

indicators as (
    select * from {{ ref('fct_municipal_indicator') }}
),

outcome_values as (
    select
        municipality_id,
        indicator,
        year,
        value
    from indicators
    where
        indicator in ('{{ outcomes | join("', '") }}')
        and value is not null
),

deliveries as (
    select
        municipality_id,
        extract(year from delivered_date)::int as year,
        count(*) as delivered
    from assistances
    where is_delivered and delivered_date is not null
    group by 1, 2
),

years as (
    select generate_series(min(year), max(year))::int as year
    from (
        select year from outcome_values
        union all
        select year from deliveries
    ) as all_years
),

universe as (
    select
        municipality_id,
        is_pdet,
        category,
        capacity_group
    from municipalities
    where entity_type in ('municipio', 'isla')
),

cumulative as (
    select
        universe.municipality_id,
        years.year,
        universe.is_pdet,
        universe.category,
        universe.capacity_group,
        (sum(coalesce(deliveries.delivered, 0)) over (
            partition by universe.municipality_id order by years.year
        ))::int as cumulative_delivered
    from universe
    cross join years
    left join deliveries
        on universe.municipality_id = deliveries.municipality_id and years.year = deliveries.year
),

treatment as (
    select
        municipality_id,
        min(year) as treatment_year
    from cumulative
    where cumulative_delivered >= {{ threshold }}
    group by 1
),

outcomes_wide as (
    select
        municipality_id,
        year
        {%- for o in outcomes %},
        max(value) filter (where indicator = '{{ o }}') as {{ o }}{% endfor %}
    from outcome_values
    group by 1, 2
),

final as (
    select
        cumulative.municipality_id,
        cumulative.year,
        cumulative.cumulative_delivered,
        treatment.treatment_year,
        case
            when cumulative.cumulative_delivered = 0 then '0'
            when cumulative.cumulative_delivered <= 2 then '1-2'
            when cumulative.cumulative_delivered <= 4 then '3-4'
            else '5+'
        end as dose_group,
        coalesce(cumulative.year >= treatment.treatment_year, false) as is_treated,
        {{ threshold }} as threshold,
        cumulative.is_pdet,
        cumulative.category,
        cumulative.capacity_group
        {%- for o in outcomes %},
        outcomes_wide.{{ o }}{% endfor %}
    from cumulative
    left join treatment on cumulative.municipality_id = treatment.municipality_id
    left join outcomes_wide
        on
            cumulative.municipality_id = outcomes_wide.municipality_id
            and cumulative.year = outcomes_wide.year
)

select * from final
