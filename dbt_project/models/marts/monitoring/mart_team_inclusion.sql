-- Share of professionals from under-represented groups, per year, nationally and per directorate,
-- published as a share only (no counts), under disclosure control (see _monitoring__models.yml):
--   primary: suppressed when the professionals in a group, or those in none, are below the threshold;
--   complementary (directorates of a year): when any directorate is suppressed, the directorates
--   with the fewest under-represented professionals are suppressed too, until at least two are and
--   the suppressed ones add up to the threshold both in and outside the groups, so that the
--   national figure minus the published directorates cannot reveal a small count.
{%- set t = var('suppression_threshold') %}

with members as (
    select * from {{ ref('int_team_members__resolved') }}
),

professionals as (
    select * from members
    where is_professional and directorate_id is not null
),

by_directorate as (
    select
        goal_year as year,
        directorate_id as scope_id,
        count(distinct person_key) as professionals_n,
        count(distinct person_key) filter (where is_underrepresented) as underrepresented_n
    from professionals
    group by goal_year, directorate_id
),

national as (
    select
        goal_year as year,
        'national' as scope,
        'CO' as scope_id,
        count(distinct person_key) as professionals_n,
        count(distinct person_key) filter (where is_underrepresented) as underrepresented_n
    from professionals
    group by goal_year
),

flagged as (
    select
        *,
        underrepresented_n < {{ t }} or professionals_n - underrepresented_n < {{ t }} as is_primary
    from by_directorate
),

year_primary as (
    select
        year,
        count(*) filter (where is_primary) as primary_cells,
        coalesce(sum(underrepresented_n) filter (where is_primary), 0) as primary_in,
        coalesce(sum(professionals_n - underrepresented_n) filter (where is_primary), 0) as primary_out
    from flagged
    group by year
),

ordered as (
    select
        flagged.*,
        year_primary.primary_cells,
        year_primary.primary_in,
        year_primary.primary_out,
        coalesce(sum(case when not flagged.is_primary then 1 end) over preceding_cells, 0) as extra_cells_before,
        coalesce(
            sum(case when not flagged.is_primary then flagged.underrepresented_n end) over preceding_cells, 0
        ) as extra_in_before,
        coalesce(
            sum(case when not flagged.is_primary then flagged.professionals_n - flagged.underrepresented_n end)
                over preceding_cells,
            0
        ) as extra_out_before
    from flagged
    inner join year_primary on flagged.year = year_primary.year
    window preceding_cells as (
        partition by flagged.year
        order by flagged.is_primary desc, flagged.underrepresented_n asc, flagged.scope_id asc
        rows between unbounded preceding and 1 preceding
    )
),

directorate_cells as (
    select
        year,
        'directorate' as scope,
        scope_id,
        professionals_n,
        underrepresented_n,
        is_primary or (
            primary_cells > 0 and (
                primary_cells + extra_cells_before < 2
                or primary_in + extra_in_before < {{ t }}
                or primary_out + extra_out_before < {{ t }}
            )
        ) as is_suppressed
    from ordered
),

national_cells as (
    select
        year,
        scope,
        scope_id,
        professionals_n,
        underrepresented_n,
        underrepresented_n < {{ t }} or professionals_n - underrepresented_n < {{ t }} as is_suppressed
    from national
),

cells as (
    select * from national_cells
    union all
    select * from directorate_cells
),

final as (
    select
        year,
        scope,
        scope_id,
        case
            when not is_suppressed then round(underrepresented_n::numeric / professionals_n, 4)
        end as share_underrepresented,
        is_suppressed
    from cells
)

select * from final
