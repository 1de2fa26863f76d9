"""The yearly prioritisation DAG: schedule, parameters, and the year it snapshots."""

import pendulum
import pytest

from sinfonia import tasks
from tests.dags.test_dag_integrity import dagbag  # noqa: F401 (fixture)


def test_runs_yearly_in_mid_january_bogota_without_catching_up(dagbag):  # noqa: F811
    from airflow.serialization.serialized_objects import DagSerialization

    dag = dagbag.dags["sinfonia_prioritisation"]
    # As the scheduler reads it: the DAG file declares the SDK's timetable (airflow.sdk, cheaper to
    # import at parse time than airflow.timetables), serialised into the scheduler's.
    timetable = DagSerialization.from_dict(DagSerialization.to_dict(dag)).timetable
    assert timetable.summary == "0 6 15 1 *"
    assert "Bogota" in str(timetable._timezone)
    assert dag.catchup is False and dag.max_active_runs == 1
    assert {"year", "as_of_date", "force"} <= set(dag.params.keys())
    assert dag.params["force"] is False


def test_resolves_the_parameters_builds_the_candidate_its_certainty_then_the_snapshot_gates_publishes_and_records(dagbag):  # noqa: F811, E501
    dag = dagbag.dags["sinfonia_prioritisation"]
    candidate = dag.get_task("dbt_build_candidate")
    assert type(candidate).__name__ == "DbtBuild" and candidate.selector == "prioritisation_candidate"
    assert candidate.upstream_task_ids == {"resolve_parameters"} and "dbt_vars" in candidate.dbt_vars
    assert dag.get_task("certainty").upstream_task_ids == {"dbt_build_candidate", "resolve_parameters"}
    build = dag.get_task("dbt_build")
    assert type(build).__name__ == "DbtBuild" and build.selector == "prioritisation_publish"
    assert build.upstream_task_ids == {"certainty"} and "dbt_vars" in build.dbt_vars
    assert dag.get_task("gate_marts").upstream_task_ids == {"dbt_build"}
    publish = dag.get_task("publish")
    assert publish.upstream_task_ids == {"gate_marts"} and publish.outlets == []  # not `marts`: no loop
    snapshot = dag.get_task("snapshot")
    assert snapshot.upstream_task_ids == {"publish", "resolve_parameters"}
    assert [a.uri for a in snapshot.outlets] == ["x-sinfonia://warehouse/marts/mart_prioritisation"]


@pytest.mark.parametrize("logical, year", [
    (pendulum.datetime(2023, 1, 15, 6, tz="America/Bogota"), 2023),
    (pendulum.datetime(2024, 1, 1, 3, tz="UTC"), 2023),  # still 31 December 2023 in Bogotá
])
def test_a_backfilled_or_scheduled_run_takes_the_year_of_its_logical_date(logical, year):
    for kind in ("scheduled", "backfill"):
        got = tasks.prioritisation_parameters({}, logical, kind)
        assert got == {"year": year, "as_of_date": None, "force": False}


def test_the_run_configuration_wins_and_a_bad_date_is_refused():
    logical = pendulum.datetime(2023, 1, 15, tz="America/Bogota")
    got = tasks.prioritisation_parameters({"year": 2021, "as_of_date": "2021-03-01", "force": True},
                                          logical, "backfill")
    assert got == {"year": 2021, "as_of_date": "2021-03-01", "force": True}
    with pytest.raises(ValueError, match="not a date"):
        tasks.prioritisation_parameters({"year": 2021, "as_of_date": "1/3/2021"}, logical, "manual")
