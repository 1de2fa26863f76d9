-- Coverage per year: nationally, per territorial directorate and per thematic line. A municipality
-- is reached in a year when it has at least one assistance of that goal year that is not
-- cancelled. Shares are over the prioritisation universe (municipalities and the
-- island; for a directorate, the ones it covers); the PDET and category 5–6 shares over the PDET
-- and the category 5–6 municipalities of that universe (category in force in the year).
with facts as (
    select * from {{ ref('fct_technical_assistance') }}
),

municipalities as (
    select * from {{ ref('dim_municipality') }}
),

directorates as (
    select * from {{ ref('dim_territorial_directorate') }}
),

lines as (
    select * from {{ ref('dim_thematic_line') }}
),

indicators as (
    select * from {{ ref('fct_municipal_indicator') }}
),

reached as (
    select distinct
        goal_year as year,
        municipality_id,
        directorate_id,
        thematic_line_id
    from facts
    where status <> 'Cancelada'
),

scoped as (
    select distinct
        year,
        'national' as scope,
        'CO' as scope_id,
        municipality_id
    from reached
    union
    select distinct
        year,
        'directorate' as scope,
        directorate_id as scope_id,
        municipality_id
    from reached
    union
    select distinct
        year,
        'thematic_line' as scope,
        thematic_line_id as scope_id,
        municipality_id
    from reached
),

years as (
    select distinct year from reached
),

universe as (
    select * from municipalities
    where entity_type in ('municipio', 'isla')
),

scopes as (
    select
        'national' as scope,
        'CO' as scope_id,
        (select count(*) from universe) as municipalities_in_scope
    union all
    select
        'directorate' as scope,
        directorates.directorate_id as scope_id,
        count(universe.municipality_id) as municipalities_in_scope
    from directorates
    left join universe on directorates.directorate_id = universe.directorate_id
    group by directorates.directorate_id
    union all
    select
        'thematic_line' as scope,
        thematic_line_id as scope_id,
        (select count(*) from universe) as municipalities_in_scope
    from lines
),

-- Category in force in the year (macro category_in_force), else the latest known.
categories as (
    select
        municipality_id,
        year,
        value_label
    from indicators
    where indicator = 'category'
),

reached_municipality_years as (
    select distinct
        year,
        municipality_id
    from scoped
),

in_force as (
    {{ category_in_force('categories', 'reached_municipality_years') }}
),

categorised as (
    select
        scoped.*,
        municipalities.department_id,
        municipalities.is_pdet,
        coalesce(in_force.category, municipalities.category) as category
    from scoped
    inner join municipalities on scoped.municipality_id = municipalities.municipality_id
    left join in_force
        on
            scoped.year = in_force.year
            and scoped.municipality_id = in_force.municipality_id
),

tallies as (
    select
        year,
        scope,
        scope_id,
        count(distinct municipality_id) as municipalities_reached,
        count(distinct department_id) as departments_reached,
        count(distinct municipality_id) filter (where is_pdet) as pdet_reached,
        count(distinct municipality_id) filter (where category in ('5', '6')) as category_5_6_reached
    from categorised
    group by year, scope, scope_id
),

-- Denominators of the PDET and category 5–6 shares: every municipality of the universe in every
-- year, with the category in force in that year by the same rule as the reached ones.
universe_years as (
    select
        years.year,
        universe.municipality_id,
        universe.directorate_id,
        universe.is_pdet,
        universe.category as latest_category
    from years
    cross join universe
),

universe_in_force as (
    select distinct on (universe_years.year, universe_years.municipality_id)
        universe_years.year,
        universe_years.municipality_id,
        categories.value_label
    from universe_years
    inner join categories
        on
            universe_years.municipality_id = categories.municipality_id
            and universe_years.year >= categories.year
    order by
        universe_years.year asc,
        universe_years.municipality_id asc,
        categories.year desc
),

universe_categorised as (
    select
        universe_years.year,
        universe_years.directorate_id,
        universe_years.is_pdet,
        coalesce(universe_in_force.value_label, universe_years.latest_category) in ('5', '6') as is_category_5_6
    from universe_years
    left join universe_in_force
        on
            universe_years.year = universe_in_force.year
            and universe_years.municipality_id = universe_in_force.municipality_id
),

national_denominators as (
    select
        year,
        count(*) filter (where is_pdet) as pdet_in_scope,
        count(*) filter (where is_category_5_6) as category_5_6_in_scope
    from universe_categorised
    group by year
),

denominators as (
    select
        year,
        'national' as scope,
        'CO' as scope_id,
        pdet_in_scope,
        category_5_6_in_scope
    from national_denominators
    union all
    select
        year,
        'directorate' as scope,
        directorate_id as scope_id,
        count(*) filter (where is_pdet) as pdet_in_scope,
        count(*) filter (where is_category_5_6) as category_5_6_in_scope
    from universe_categorised
    where directorate_id is not null
    group by year, directorate_id
    union all
    select
        national_denominators.year,
        'thematic_line' as scope,
        lines.thematic_line_id as scope_id,
        national_denominators.pdet_in_scope,
        national_denominators.category_5_6_in_scope
    from national_denominators
    cross join lines
),

final as (
    select
        years.year,
        scopes.scope,
        scopes.scope_id,
        coalesce(tallies.municipalities_reached, 0) as municipalities_reached,
        coalesce(tallies.departments_reached, 0) as departments_reached,
        scopes.municipalities_in_scope,
        round(
            coalesce(tallies.municipalities_reached, 0)::numeric / nullif(scopes.municipalities_in_scope, 0), 4
        ) as share_of_municipalities,
        coalesce(tallies.pdet_reached, 0) as pdet_reached,
        coalesce(tallies.category_5_6_reached, 0) as category_5_6_reached,
        coalesce(denominators.pdet_in_scope, 0) as pdet_in_scope,
        coalesce(denominators.category_5_6_in_scope, 0) as category_5_6_in_scope,
        round(coalesce(tallies.pdet_reached, 0)::numeric / nullif(denominators.pdet_in_scope, 0), 4) as share_of_pdet,
        round(
            coalesce(tallies.category_5_6_reached, 0)::numeric / nullif(denominators.category_5_6_in_scope, 0), 4
        ) as share_of_category_5_6
    from years
    cross join scopes
    left join tallies
        on
            years.year = tallies.year
            and scopes.scope = tallies.scope
            and scopes.scope_id = tallies.scope_id
    left join denominators
        on
            years.year = denominators.year
            and scopes.scope = denominators.scope
            and scopes.scope_id = denominators.scope_id
)

select * from final
