"""The weekly monitoring DAG: scheduled by the ESAP exports or weekly, builds only what they change."""

from sinfonia import pipeline
from tests.dags.test_dag_integrity import dagbag  # noqa: F401 - the shared DagBag fixture

MONITORING_MARTS = ("mart_directorate_playlist", "mart_coverage", "dim_team", "mart_team_inclusion", "mart_open_work")


def test_monitoring_runs_weekly_or_when_an_esap_export_lands(dagbag):  # noqa: F811
    dag = dagbag.dags["sinfonia_monitoring"]
    timetable = dag.timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert {a.name for a in timetable.asset_condition.objects} == {
        "raw.esap_asistencias", "raw.esap_metas", "raw.esap_equipos"}
    produced = {a.name for a in dagbag.dags["sinfonia_extract"].get_task("gate_raw").outlets}
    assert {"raw.esap_asistencias", "raw.esap_metas", "raw.esap_equipos"} <= produced
    assert "0 6 * * 1" in repr(timetable.timetable)


def test_monitoring_builds_the_weekly_selector_then_gates_and_publishes(dagbag):  # noqa: F811
    dag = dagbag.dags["sinfonia_monitoring"]
    build = dag.get_task("dbt_build")
    assert type(build).__name__ == "DbtBuild" and build.selector == "weekly_monitoring"
    assert build.pool == "sinfonia_dbt"
    assert dag.get_task("publish").upstream_task_ids == {"gate_marts"}
    assert dag.get_task("gate_marts").upstream_task_ids == {"dbt_build"}
    assert [a.uri for a in dag.get_task("publish").outlets] == ["x-sinfonia://warehouse/marts"]


def test_monitoring_notifies_the_directorates_only_after_the_marts_are_published(dagbag):  # noqa: F811
    dag = dagbag.dags["sinfonia_monitoring"]
    notify = dag.get_task("notify_directorates")
    assert notify.upstream_task_ids == {"publish"} and notify.downstream_task_ids == {"release_warehouse"}
    assert notify.trigger_rule == "all_success"


def test_the_weekly_selector_reloads_the_recipients_seed():
    from sinfonia import dbt

    result = dbt.run(["ls", "--selector", "weekly_monitoring", "--resource-type", "seed", "--output", "name",
                      "--quiet"])
    assert set(result.result) == {"directorate_recipients"}


def test_the_weekly_selector_rebuilds_what_the_esap_exports_change_and_nothing_else():
    from sinfonia import dbt

    result = dbt.run(["ls", "--selector", "weekly_monitoring", "--resource-type", "model", "--output", "name",
                      "--quiet"])
    models = set(result.result)
    assert set(MONITORING_MARTS) | {"fct_technical_assistance", "int_assistances__state_history"} <= models
    assert all(m.startswith(("stg_esap__", "int_assistances__", "int_goals__", "int_team_members__"))
               for m in models - set(MONITORING_MARTS) - {"fct_technical_assistance"}), models
    # Read where the last full transform left them; the impact panel is the full refresh's.
    assert not models & {"dim_municipality", "fct_municipal_indicator", "dim_date", "mart_impact_panel",
                         "stg_divipola__municipalities", "int_indicators__unioned"}


def test_full_refresh_is_unchanged_and_the_weekly_path_runs_extract_then_monitoring():
    assert pipeline.FULL_REFRESH[:2] == ("sinfonia_extract", "sinfonia_transform")
    assert pipeline.WEEKLY == ("sinfonia_extract", "sinfonia_monitoring")
