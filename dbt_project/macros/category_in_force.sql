{#-
    The Ley 617 category in force, one rule for every model that needs it
    (mart_coverage, int_prioritisation__candidate): for each (year, municipality_id) of
    `targets`, the category of the latest certified year not after that year.

    `categories`: a relation or CTE with municipality_id, year and value_label (the category
    rows of fct_municipal_indicator, already narrowed to what may be used, e.g. published by an
    as-of date). Returns year, municipality_id, category and category_year; a target with no
    certified year up to its year has no row.
-#}
{% macro category_in_force(categories, targets) %}
    select distinct on (targets.year, targets.municipality_id)
        targets.year,
        targets.municipality_id,
        categories.value_label as category,
        categories.year as category_year
    from {{ targets }} as targets
    inner join {{ categories }} as categories
        on
            targets.municipality_id = categories.municipality_id
            and categories.year <= targets.year
    where categories.value_label is not null
    order by
        targets.year asc,
        targets.municipality_id asc,
        categories.year desc
{% endmacro %}
