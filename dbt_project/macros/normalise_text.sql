{#- Accent-, case- and space-insensitive form of a text column, for matching names to seeds. -#}
{% macro normalise_text(column) -%}
    regexp_replace(lower(translate(trim({{ column }}), 'ÁÉÍÓÚÜÑáéíóúüñ', 'AEIOUUNaeiouun')), '\s+', ' ', 'g')
{%- endmacro %}
