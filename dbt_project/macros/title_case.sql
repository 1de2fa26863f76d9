{#- Names in title case ("MEDELLÍN" → "Medellín"). initcap follows the column's collation, and
    under the C collation letters with accents end words ("RÍO" → "RÍo"); the libc C.utf8
    collation (present where glibc is: Debian, Ubuntu, the official PostgreSQL images) knows them. -#}
{% macro title_case(column) -%}
    initcap({{ column }} collate "C.utf8")
{%- endmacro %}
