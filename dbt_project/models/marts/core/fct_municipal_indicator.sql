-- One value per municipality, indicator and year, with the date it was published.
with indicators as (
    select * from {{ ref('int_indicators__unioned') }}
),

final as (
    select
        municipality_id,
        indicator,
        year,
        value,
        value_label,
        methodology,
        published_on,
        source
    from indicators
)

select * from final
