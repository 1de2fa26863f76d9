-- CGN municipal categories (Ley 617 de 2000) per year; years without a category (SIN, empty)
-- are left out. A published value the extractor read as no category other than SIN stays, so
-- that the mapped_without_loss test fails on it.
with source as (
    select * from {{ source('cgn', 'cgn_categories') }}
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
    where
        category is not null
        or (nullif(trim(category_published), '') is not null and upper(trim(category_published)) <> 'SIN')
)

select * from final
