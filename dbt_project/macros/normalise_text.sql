{#- Accent-, case- and space-insensitive form of a text column, for matching names to seeds. -#}
{% macro normalise_text(column) -%}
    regexp_replace(lower(translate(trim({{ column }}), 'ÁÉÍÓÚÜÑáéíóúüñ', 'AEIOUUNaeiouun')), '\s+', ' ', 'g')
{%- endmacro %}

{#- The keys by which a name as ESAP staff type it matches a seed row: the row's name and its key,
    normalised, one row per (match_key, <entity>_id). Joined with
    `on normalise_text(typed) = <cte>.match_key`, an equality the planner hashes: the typed name is
    normalised once per row, not once per seed row (a nested loop of regexes, 100 s at 100x). -#}
{% macro seed_keys(seed, entity) -%}
    select
        {{ normalise_text(entity ~ '_name') }} as match_key,
        {{ entity }}_id
    from {{ ref(seed) }}
    union
    select
        {{ normalise_text(entity ~ '_id') }} as match_key,
        {{ entity }}_id
    from {{ ref(seed) }}
{%- endmacro %}
