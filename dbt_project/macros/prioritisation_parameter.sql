{% macro prioritisation_parameter(name, default=none) %}
    {#- One parameter of a prioritisation run (prioritisation_year, prioritisation_as_of_date,
        prioritisation_force): dbt's `--vars` when given (a build run by hand, a unit test's
        overrides), otherwise the environment variable SINFONIA_<NAME> (a JSON value) that
        sinfonia.dbt sets for the prioritisation DAG's builds, otherwise `default`.

        Why not only `--vars`: dbt re-parses the whole project whenever `--vars` change (about
        4 s a build), while a changed environment variable re-parses only the files that read it
        (these two models). -#}
    {%- set from_env = env_var('SINFONIA_' ~ name | upper, '') -%}
    {{ return(var(name, fromjson(from_env) if from_env else default)) }}
{% endmacro %}
