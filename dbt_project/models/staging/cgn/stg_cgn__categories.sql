-- CGN municipal categories (Ley 617 de 2000) per year; years without a category (SIN, empty)
-- are left out.
with source as (
    select * from {{ source('raw', 'cgn_categories') }}
),

final as (
    select
        municipality_code as municipality_id,
        year::integer as year,
        category,
        category_published,
        categorised_by,
        _published_on as published_on
    from source
    where category is not null
)

select * from final
