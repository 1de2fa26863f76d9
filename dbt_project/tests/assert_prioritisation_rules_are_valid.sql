-- Prioritisation rules (seed prioritisation_rules): each of the four rules present once and
-- valid. Run by `dbt build` and before every prioritisation run (selector prioritisation); each
-- failing row says what is wrong in `problem`.
{{ config(store_failures=true, schema='intermediate') }}

with rules as (
    select
        rule,
        trim(value) as value
    from {{ ref('prioritisation_rules') }}
),

expected as (
    select rule
    from (values ('eligible_categories'), ('pdet_eligible'), ('imrc_component'), ('default_as_of')) as r (rule)
),

missing as (
    select
        expected.rule,
        null::text as value,
        'rule ' || expected.rule || ' is missing' as problem
    from expected
    where not exists (
        select 1 from rules
        where rules.rule = expected.rule
    )
),

categories as (
    select
        rules.rule,
        rules.value,
        'eligible_categories has ' || coalesce(category, 'nothing') || '; expected categories among E, 1-6' as problem
    from rules
    cross join lateral unnest(string_to_array(upper(replace(coalesce(rules.value, ''), ' ', '')), ',')) as category
    where rules.rule = 'eligible_categories' and category not in ('E', '1', '2', '3', '4', '5', '6')
),

invalid as (
    select
        rule,
        value,
        case rule
            when 'pdet_eligible' then 'pdet_eligible is ' || coalesce(value, 'empty') || '; expected true or false'
            when 'imrc_component'
                then 'imrc_component is ' || coalesce(value, 'empty') || '; expected max, exceso or deficit'
            else 'default_as_of is ' || coalesce(value, 'empty') || '; expected MM-DD'
        end as problem
    from rules
    where
        (rule = 'pdet_eligible' and lower(coalesce(value, '')) not in ('true', 'false'))
        or (rule = 'imrc_component' and lower(coalesce(value, '')) not in ('max', 'exceso', 'deficit'))
        or (rule = 'default_as_of' and coalesce(value, '') !~ '^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$')
),

final as (
    select * from missing
    union all
    select * from categories
    union all
    select * from invalid
)

select * from final
