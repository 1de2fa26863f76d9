-- One value per municipality, indicator and year, with the date it was published (for
-- point-in-time use). IDF: `idf` is DNP's new methodology (2020 on), `idf_anterior` the old one
-- (up to 2021); both exist for 2021 and are not comparable. MDM and its two components come from
-- datos.gov.co or DNP's workbook, the components' dimensions (mdm_movilizacion ... mdm_seguridad)
-- from the workbook only; IPM from the 2018 census (year 2018); IMRC by edition year.
-- Category: CGN's certified category wins over the one the IDF workbooks carry (new methodology
-- before old). Capacity group: MDM's own group wins over the IDF's `Dotaciones Iniciales`.
-- Only codes present in DIVIPOLA reach this model's consumers: the raw gates stop others earlier.
with idf as (
    select * from {{ ref('stg_idf__scores') }}
),

mdm as (
    select * from {{ ref('stg_mdm__scores') }}
),

ipm as (
    select * from {{ ref('stg_ipm__municipalities') }}
),

imrc as (
    select * from {{ ref('stg_imrc__scores') }}
),

cgn as (
    select * from {{ ref('stg_cgn__categories') }}
),

idf_scores as (
    select
        municipality_id,
        case methodology when 'nueva' then 'idf' else 'idf_anterior' end as indicator,
        year,
        idf_score as value,
        range_label as value_label,
        methodology,
        published_on,
        'DNP IDF' as source
    from idf
),

idf_cadastral_bonus as (
    select
        municipality_id,
        'idf_bono_catastro' as indicator,
        year,
        bono_catastro as value,
        null::text as value_label,
        methodology,
        published_on,
        'DNP IDF (Bono Catastro)' as source
    from idf
    where methodology = 'nueva' and bono_catastro is not null
),

mdm_scores as (
    select
        municipality_id,
        indicator,
        year,
        value,
        null::text as value_label,
        null::text as methodology,
        published_on,
        case source_format
            when 'socrata' then 'DNP MDM (datos.gov.co nkjx-rsq7)'
            else 'DNP MDM (base de datos)'
        end as source
    from mdm
    where indicator <> 'capacity_group' and value is not null
),

ipm_long as (
    select
        municipality_id,
        'ipm' as indicator,
        year,
        ipm as value,
        published_on
    from ipm
    union all
    select
        municipality_id,
        'ipm_cabecera' as indicator,
        year,
        ipm_cabecera as value,
        published_on
    from ipm
    union all
    select
        municipality_id,
        'ipm_rural' as indicator,
        year,
        ipm_rural as value,
        published_on
    from ipm
),

ipm_scores as (
    select
        municipality_id,
        indicator,
        year,
        value,
        null::text as value_label,
        'CNPV 2018' as methodology,
        published_on,
        'DANE IPM censal 2018' as source
    from ipm_long
    where value is not null
),

imrc_scores as (
    select
        municipality_id,
        'imrc_' || hazard as indicator,
        edition as year,
        imrc as value,
        null::text as value_label,
        null::text as methodology,
        published_on,
        'DNP IMRC' as source
    from imrc
    where imrc is not null
),

category_candidates as (
    select
        municipality_id,
        year,
        category,
        null::text as methodology,
        published_on,
        'CGN (Categoría Ley 617 de 2000)' as source,
        1 as priority
    from cgn
    union all
    select
        municipality_id,
        year,
        category,
        methodology,
        published_on,
        'DNP IDF (Categoría Ley 617 de 2000)' as source,
        case methodology when 'nueva' then 2 else 3 end as priority
    from idf
    where category is not null
),

categories as (
    select distinct on (municipality_id, year)
        municipality_id,
        'category' as indicator,
        year,
        null::numeric as value,
        category as value_label,
        methodology,
        published_on,
        source
    from category_candidates
    order by municipality_id, year, priority
),

capacity_candidates as (
    select
        municipality_id,
        year,
        capacity_group,
        null::text as methodology,
        published_on,
        'DNP MDM (grupo de capacidades iniciales)' as source,
        1 as priority
    from mdm
    where indicator = 'capacity_group' and capacity_group is not null
    union all
    select
        municipality_id,
        year,
        capacity_group,
        methodology,
        published_on,
        'DNP IDF (Dotaciones Iniciales)' as source,
        2 as priority
    from idf
    where capacity_group is not null and methodology = 'nueva'
),

capacity_groups as (
    select distinct on (municipality_id, year)
        municipality_id,
        'capacity_group' as indicator,
        year,
        null::numeric as value,
        capacity_group as value_label,
        methodology,
        published_on,
        source
    from capacity_candidates
    order by municipality_id, year, priority
),

final as (
    select * from idf_scores
    union all
    select * from idf_cadastral_bonus
    union all
    select * from mdm_scores
    union all
    select * from ipm_scores
    union all
    select * from imrc_scores
    union all
    select * from categories
    union all
    select * from capacity_groups
)

select * from final
