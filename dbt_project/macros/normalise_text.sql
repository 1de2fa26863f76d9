{#- Accent-, case- and space-insensitive form of a text column, for matching names to seeds. -#}
{% macro normalise_text(column) -%}
    regexp_replace(lower(translate(trim({{ column }}), 'ÁÉÍÓÚÜÑáéíóúüñ', 'AEIOUUNaeiouun')), '\s+', ' ', 'g')
{%- endmacro %}

{#- A name as ESAP staff type it matches a seed row by its name or its key, compared normalised.
    matches_seed('goals.directorate_name', 'directorates', 'directorate') compares with
    directorates.directorate_name and directorates.directorate_id. -#}
{% macro matches_seed(typed_name, seed, entity) -%}
    {{ normalise_text(typed_name) }} in (
            {{ normalise_text(seed ~ '.' ~ entity ~ '_name') }},
            {{ normalise_text(seed ~ '.' ~ entity ~ '_id') }}
        )
{%- endmacro %}
