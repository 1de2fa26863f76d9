{#- The team (artist) key, as fct_technical_assistance builds it: directorate-year-name hash. -#}
{% macro team_id(directorate_id, year, team_name) -%}
    {{ directorate_id }} || '-' || {{ year }} || '-' || left(md5(lower(trim({{ team_name }}))), 8)
{%- endmacro %}
