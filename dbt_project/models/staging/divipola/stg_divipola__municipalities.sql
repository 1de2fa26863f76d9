-- DIVIPOLA entities over every edition loaded, one row per 5-digit code: the attributes of the
-- latest edition that lists the code, whether the newest edition still lists it (is_current),
-- and the editions in which it was first and last seen. An entity that disappears (94663
-- Mapiripana after 2019) stays, not current, because facts still refer to it.
-- Editions are ordered by publication date (or the edition's year), then by load.
with source as (
    select * from {{ source('divipola', 'divipola') }}
),

editions as (
    select
        _period as edition,
        max(_published_on) as published_on,
        max(_load_id) as load_id
    from source
    group by _period
),

ordered_editions as (
    select
        edition,
        row_number() over (
            order by
                coalesce(
                    published_on, case when edition ~ '^\d{4}$' then make_date(edition::integer, 1, 1) end
                ) asc nulls first,
                load_id asc
        ) as edition_order
    from editions
),

listed as (
    select
        source.*,
        ordered_editions.edition_order
    from source
    inner join ordered_editions on source._period = ordered_editions.edition
),

latest_listing as (
    select distinct on (municipality_code) *
    from listed
    order by municipality_code asc, edition_order desc
),

seen as (
    select
        municipality_code,
        min(edition_order) as first_order,
        max(edition_order) as last_order
    from listed
    group by municipality_code
),

final as (
    select
        latest_listing.municipality_code as municipality_id,
        {{ title_case('latest_listing.municipality_name') }} as municipality_name,
        latest_listing.department_code as department_id,
        {{ title_case('latest_listing.department_name') }} as department_name,
        latest_listing.entity_type,
        seen.last_order = (select max(ordered_editions.edition_order) from ordered_editions) as is_current,
        first_edition.edition as first_seen_edition,
        last_edition.edition as last_seen_edition
    from latest_listing
    inner join seen on latest_listing.municipality_code = seen.municipality_code
    inner join ordered_editions as first_edition on seen.first_order = first_edition.edition_order
    inner join ordered_editions as last_edition on seen.last_order = last_edition.edition_order
)

select * from final
