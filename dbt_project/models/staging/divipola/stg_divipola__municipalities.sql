-- DIVIPOLA entities over every edition loaded, one row per 5-digit code: the attributes of the
-- latest edition that lists the code, whether the newest edition still lists it (is_current),
-- and the editions in which it was first and last seen. An entity that disappears (94663
-- Mapiripana after 2019) stays, not current, because facts still refer to it.
-- Editions are ordered by publication date (or the edition's year), then by load.
-- Coordinates (latitude, longitude, WGS84 decimal degrees) come from the latest edition that
-- publishes a usable pair for the code, named in coordinates_edition: the raw text as published
-- (decimal comma in the Socrata export, point in a workbook) is cast here; a value that is not a
-- number, or a pair outside Colombia's bounding box (the GX suite raw_divipola warns on both),
-- gives no coordinates rather than a wrong point.
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

coordinates as (
    select distinct on (municipality_code)
        municipality_code,
        latitude_value as latitude,
        longitude_value as longitude,
        _period as coordinates_edition
    from (
        select
            listed.*,
            case
                when trim(listed.latitude) ~ '^-?[0-9]+([.,][0-9]+)?$'
                    then replace(trim(listed.latitude), ',', '.')::numeric
            end as latitude_value,
            case
                when trim(listed.longitude) ~ '^-?[0-9]+([.,][0-9]+)?$'
                    then replace(trim(listed.longitude), ',', '.')::numeric
            end as longitude_value
        from listed
    ) as parsed
    where
        -- Colombia with the San Andrés archipelago: Leticia at -4.2, Serranilla at 15.9; Providencia
        -- at -81.4, the eastern border at -66.9 (the same box as the raw_divipola warning)
        latitude_value between -4.3 and 16.0
        and longitude_value between -82.0 and -66.8
    order by municipality_code asc, edition_order desc
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
        last_edition.edition as last_seen_edition,
        coordinates.latitude,
        coordinates.longitude,
        coordinates.coordinates_edition
    from latest_listing
    inner join seen on latest_listing.municipality_code = seen.municipality_code
    inner join ordered_editions as first_edition on seen.first_order = first_edition.edition_order
    inner join ordered_editions as last_edition on seen.last_order = last_edition.edition_order
    left join coordinates on latest_listing.municipality_code = coordinates.municipality_code
)

select * from final
