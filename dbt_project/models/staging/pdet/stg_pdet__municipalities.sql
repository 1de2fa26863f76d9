with source as (
    select * from {{ source('pdet', 'pdet') }}
),

final as (
    select
        municipality_code as municipality_id,
        -- Name variants seen in the wild ("Macarena-Guaviare", "Macarena - Guaviare") normalised.
        upper(regexp_replace(trim(subregion), '\s*-\s*', ' - ', 'g')) as pdet_subregion
    from source
)

select * from final
