-- Rows of the impact panel that contradict its definition: cumulative counts that fall or are
-- negative, treatment years where the threshold is not reached, outcomes off the 0-100 scale (MDM
-- up to 101: DNP publishes a few scores just above 100, sources/mdm.py PUBLISHED_OVERSHOOT).
with panel as (
    select * from {{ ref('mart_impact_panel') }}
),

previous as (
    select
        *,
        lag(cumulative_delivered) over (partition by municipality_id order by year) as previous_cumulative
    from panel
),

final as (
    select
        municipality_id,
        year,
        treatment_year,
        threshold,
        cumulative_delivered,
        previous_cumulative,
        mdm,
        mdm_gestion,
        mdm_resultados,
        idf
    from previous
    where
        cumulative_delivered < 0
        or cumulative_delivered < previous_cumulative
        or (year = treatment_year and cumulative_delivered < threshold)
        or (year < treatment_year and cumulative_delivered >= threshold)
        or (treatment_year is null and cumulative_delivered >= threshold)
        or mdm not between 0 and 101
        or mdm_gestion not between 0 and 101
        or mdm_resultados not between 0 and 101
        or idf not between 0 and 100
)

select * from final
