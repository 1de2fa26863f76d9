-- Census 2018 IPM privations per municipality (% of persons deprived), one column per privation.
-- No mart reads them yet: staged so that the loaded table has a typed, documented, tested reader.
{%- set privations = ['analfabetismo', 'bajo_logro_educativo', 'barreras_primera_infancia',
    'inasistencia_escolar', 'rezago_escolar', 'trabajo_infantil', 'barreras_salud',
    'sin_aseguramiento_salud', 'tasa_dependencia', 'trabajo_informal', 'hacinamiento_critico',
    'eliminacion_excretas', 'material_paredes', 'material_pisos', 'sin_agua_mejorada'] %}

with source as (
    select * from {{ source('ipm', 'ipm_privations') }}
),

final as (
    select
        entity_code as municipality_id,
        year::integer as year,
        {%- for p in privations %}
        {{ p }}::numeric as {{ p }},
        {%- endfor %}
        notes,
        _published_on as published_on
    from source
    where entity_level = 'municipio'
)

select * from final
