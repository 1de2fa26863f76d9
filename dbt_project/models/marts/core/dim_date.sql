-- One row per calendar day over the configured span (vars date_spine_start / date_spine_end),
-- with Spanish names for what ESAP staff read. Colombia's fiscal year is the calendar year.
with days as (
    select generated.day::date as date_day
    from generate_series(
        '{{ var("date_spine_start") }}'::date,
        '{{ var("date_spine_end") }}'::date,
        interval '1 day'
    ) as generated (day)
),

month_names as (
    select
        month_number,
        month_name
    from unnest(array[
        'enero', 'febrero', 'marzo', 'abril', 'mayo', 'junio', 'julio', 'agosto',
        'septiembre', 'octubre', 'noviembre', 'diciembre'
    ]) with ordinality as names (month_name, month_number)
),

day_names as (
    select
        iso_day_of_week,
        day_name
    from unnest(array[
        'lunes', 'martes', 'miércoles', 'jueves', 'viernes', 'sábado', 'domingo'
    ]) with ordinality as names (day_name, iso_day_of_week)
),

attributes as (
    select
        date_day,
        extract(year from date_day)::integer as year,
        extract(quarter from date_day)::integer as quarter,
        extract(month from date_day)::integer as month,
        extract(day from date_day)::integer as day_of_month,
        extract(doy from date_day)::integer as day_of_year,
        extract(isodow from date_day)::integer as iso_day_of_week,
        extract(isoyear from date_day)::integer as iso_year,
        extract(week from date_day)::integer as iso_week,
        date_trunc('week', date_day)::date as iso_week_start_date,
        date_trunc('month', date_day)::date as month_start_date,
        to_char(date_day, 'YYYY-MM') as year_month
    from days
),

final as (
    select
        attributes.date_day,
        attributes.year,
        attributes.quarter,
        attributes.month,
        month_names.month_name,
        attributes.year_month,
        attributes.month_start_date,
        attributes.day_of_month,
        attributes.day_of_year,
        attributes.iso_day_of_week,
        day_names.day_name,
        attributes.iso_year,
        attributes.iso_week,
        attributes.iso_week_start_date,
        attributes.iso_day_of_week in (6, 7) as is_weekend,
        attributes.year as fiscal_year
    from attributes
    inner join month_names
        on attributes.month = month_names.month_number
    inner join day_names
        on attributes.iso_day_of_week = day_names.iso_day_of_week
)

select * from final
