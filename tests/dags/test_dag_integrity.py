"""DAG files: import with no connections and no network; structure; Asset chaining."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    from sinfonia import config, dbt

    home = tmp_path_factory.mktemp("airflow")
    env = {**config.airflow_env(), "AIRFLOW_HOME": str(home),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db"}
    # Undone afterwards: later modules on this worker run pipelines whose Airflow home is the session's.
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        dbt.ensure_manifest()
        from airflow.dag_processing.dagbag import DagBag

        yield DagBag(dag_folder=str(REPO / "dags"), safe_mode=False)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_runs_on_its_own_without_connections_or_network(path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "WAREHOUSE_DSN"))}
    env.update({"AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False", "DO_NOT_TRACK": "1",
                "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"})
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_every_dag_is_documented_tagged_and_not_catching_up(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and len(dag.doc_md) > 80, dag_id
        assert "sinfonia" in dag.tags, f"{dag_id} lacks the tag sinfonia (tags: {sorted(dag.tags)})"
        assert dag.catchup is False, dag_id
        assert dag.max_active_runs == 1, dag_id


def test_extract_has_one_task_per_catalogue_source_after_what_it_needs(dagbag):
    from sinfonia.ingest.sources import CATALOGUE

    dag = dagbag.dags["sinfonia_extract"]
    assert "extract_divipola" in dag.get_task("extract_esap_asistencias").upstream_task_ids  # names resolved
    assert {t.task_id for t in dag.tasks} == {"take_warehouse", "bootstrap", "land", "gate_raw", "release_warehouse",
                                              *(s.task_id for s in CATALOGUE)}
    assert dag.get_task("bootstrap").upstream_task_ids == {"take_warehouse"}
    assert dag.get_task("land").upstream_task_ids == {"bootstrap"}
    assert dag.get_task("gate_raw").upstream_task_ids == {s.task_id for s in CATALOGUE}
    for spec in CATALOGUE:  # every source parses what `land` landed (possibly on another worker)
        upstream = dag.get_task(spec.task_id).upstream_task_ids
        assert upstream == {"land", *(f"extract_{a}" for a in spec.after)}, spec.name
    equipos = dag.get_task("extract_esap_equipos")
    assert "pseudonymised on landing" in equipos.doc_md  # the catalogue's note reaches the task


def test_every_dag_run_holds_the_warehouse_from_its_first_task_to_its_teardown(dagbag):
    """One run at a time for every path (sinfonia.runlock): whatever starts a DAG run (schedule,
    asset, UI, command line), its first task takes the warehouse, every other task checks it
    still holds it before running, and a teardown gives it back whatever the others did."""
    from sinfonia import tasks

    for dag_id, dag in dagbag.dags.items():
        take, release = dag.get_task("take_warehouse"), dag.get_task("release_warehouse")
        others = [t for t in dag.tasks if t not in (take, release)]
        assert take.is_setup and not take.upstream_task_ids, dag_id
        assert release.is_teardown and take.task_id in release.upstream_task_ids, dag_id
        assert getattr(release.trigger_rule, "value", release.trigger_rule) == "all_done_setup_success", dag_id
        for t in others:  # every task runs after take and before release, and is guarded
            assert take.task_id in t.get_flat_relative_ids(upstream=True), (dag_id, t.task_id)
            assert release.task_id in t.get_flat_relative_ids(upstream=False), (dag_id, t.task_id)
            assert t._pre_execute_hook is tasks.guard_warehouse, (dag_id, t.task_id)


def test_transform_is_scheduled_by_the_assets_the_raw_gate_produces(dagbag):
    gate = dagbag.dags["sinfonia_extract"].get_task("gate_raw")
    produced = {a.uri for a in gate.outlets}
    transform = dagbag.dags["sinfonia_transform"]
    condition = transform.timetable.asset_condition
    assert type(condition).__name__ == "AssetAny"  # any new raw source triggers a refresh
    consumed = {a.uri for a in condition.objects}
    assert len(produced) >= 5 and produced == consumed


def test_transform_builds_dbt_before_the_gate_and_publishes_last(dagbag):
    dag = dagbag.dags["sinfonia_transform"]
    build = dag.get_task("dbt_build")
    assert type(build).__name__ == "DbtBuild" and build.selector is None  # the whole project
    assert build.pool == "sinfonia_dbt"  # one dbt build into marts_build at a time, across DAGs
    publish = dag.get_task("publish")
    assert publish.upstream_task_ids == {"gate_marts"}
    assert dag.get_task("gate_marts").upstream_task_ids == {"dbt_build"}
    assert dag.get_task("dbt_build").upstream_task_ids == {"take_warehouse"}
    assert [a.uri for a in publish.outlets] == ["x-sinfonia://warehouse/marts"]


def test_impact_runs_after_the_marts_are_published_and_is_in_the_full_refresh(dagbag):
    from sinfonia import pipeline

    publish = dagbag.dags["sinfonia_transform"].get_task("publish")
    impact = dagbag.dags["sinfonia_impact"]
    assert {a.uri for a in impact.timetable.asset_condition.objects} == {a.uri for a in publish.outlets}
    # estimate → dbt build of mart_impact_estimates → gate → publish (which must not update `marts`,
    # the Asset that schedules this DAG)
    build = impact.get_task("dbt_build")
    assert build.selector == "impact_estimates" and build.upstream_task_ids == {"estimate_impact"}
    assert impact.get_task("gate_marts").upstream_task_ids == {"dbt_build"}
    assert [a.uri for a in impact.get_task("publish").outlets] == [
        "x-sinfonia://warehouse/marts/mart_impact_estimates"]
    assert pipeline.FULL_REFRESH.index("sinfonia_impact") > pipeline.FULL_REFRESH.index("sinfonia_transform")


# -- the Astro project template's DAG integrity checks (tags: above) --------------------------------
def test_every_dag_file_imports_without_errors(dagbag):
    errors = {Path(path).name: message.strip().splitlines()[-1] for path, message in dagbag.import_errors.items()}
    assert not errors, f"DAG files failed to import: {errors}"
    assert {Path(dag.fileloc).name for dag in dagbag.dags.values()} == {p.name for p in DAG_FILES}


def test_every_task_retries_at_least_twice_with_backoff(dagbag):
    few = sorted(f"{dag_id}.{t.task_id}: retries={t.retries}" for dag_id, dag in dagbag.dags.items()
                 for t in dag.tasks if (t.retries or 0) < 2)
    assert not few, f"tasks with fewer than 2 retries: {few}"
    for dag_id, dag in dagbag.dags.items():
        assert (dag.default_args or {}).get("retries", 0) >= 2, f"{dag_id}: default_args lack retries >= 2"
        for t in dag.tasks:
            assert t.retry_exponential_backoff > 1 and t.max_retry_delay, f"{dag_id}.{t.task_id}: no backoff"
            assert type(t.retry_policy).__name__ == "FailFastOnBadInput", f"{dag_id}.{t.task_id}"
