"""The weekly monitoring DAG: scheduled by the ESAP exports or weekly, renders only its marts."""

from sinfonia import pipeline
from tests.dags.test_dag_integrity import dagbag  # noqa: F401 - the shared DagBag fixture

MONITORING_MARTS = ("mart_directorate_playlist", "mart_coverage", "dim_team", "mart_team_inclusion")


def test_monitoring_runs_weekly_or_when_an_esap_export_lands(dagbag):  # noqa: F811
    dag = dagbag.dags["sinfonia_monitoring"]
    timetable = dag.timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert {a.name for a in timetable.asset_condition.objects} == {
        "raw.esap_asistencias", "raw.esap_metas", "raw.esap_equipos"}
    produced = {a.name for a in dagbag.dags["sinfonia_extract"].get_task("gate_raw").outlets}
    assert {"raw.esap_asistencias", "raw.esap_metas", "raw.esap_equipos"} <= produced
    assert "0 6 * * 1" in repr(timetable.timetable)


def test_monitoring_builds_only_its_marts_and_their_parents_then_gates_and_publishes(dagbag):  # noqa: F811
    dag = dagbag.dags["sinfonia_monitoring"]
    build = dag.get_task("dbt_build")
    assert type(build).__name__ == "DbtBuildLocalOperator"
    assert sorted(build.select) == sorted(f"+{m}" for m in MONITORING_MARTS)  # marts and parents
    assert not dagbag.dags["sinfonia_transform"].get_task("dbt_build").select  # the full build
    assert dag.get_task("publish").upstream_task_ids == {"gate_marts"}
    assert dag.get_task("gate_marts").upstream_task_ids == {"dbt_build"}
    assert [a.uri for a in dag.get_task("publish").outlets] == ["sinfonia://warehouse/marts"]


def test_full_refresh_is_unchanged_and_the_weekly_path_runs_extract_then_monitoring():
    assert pipeline.FULL_REFRESH[:2] == ("sinfonia_extract", "sinfonia_transform")
    assert pipeline.WEEKLY == ("sinfonia_extract", "sinfonia_monitoring")
