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
    built = {t.split(".", 1)[1].rsplit("_model_build", 1)[0] for t in dag.task_ids if t.endswith("_model_build")}
    assert set(MONITORING_MARTS) <= built
    assert {"fct_technical_assistance", "int_team_members__resolved", "int_goals__resolved"} <= built
    full = dagbag.dags["sinfonia_transform"]
    assert {t for t in dag.task_ids if t.startswith("dbt.")} <= set(full.task_ids)
    assert dag.get_task("publish").upstream_task_ids == {"gate_marts"}
    assert all(t.startswith("dbt.") for t in dag.get_task("gate_marts").upstream_task_ids)
    assert [a.uri for a in dag.get_task("publish").outlets] == ["sinfonia://warehouse/marts"]


def test_full_refresh_is_unchanged_and_the_weekly_path_runs_extract_then_monitoring():
    assert pipeline.FULL_REFRESH == ("sinfonia_extract", "sinfonia_transform")
    assert pipeline.WEEKLY == ("sinfonia_extract", "sinfonia_monitoring")
