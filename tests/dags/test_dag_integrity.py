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
    os.environ.update(env)
    dbt.ensure_manifest()
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"), safe_mode=False)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_runs_on_its_own_without_connections_or_network(path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "WAREHOUSE_DSN"))}
    env.update({"AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False", "DO_NOT_TRACK": "1",
                "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"})
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"sinfonia_extract", "sinfonia_transform"} <= set(dagbag.dag_ids)


def test_every_dag_is_documented_tagged_and_not_catching_up(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and len(dag.doc_md) > 80, dag_id
        assert "sinfonia" in dag.tags, dag_id
        assert dag.catchup is False, dag_id
        assert dag.max_active_runs == 1, dag_id


def test_extract_loads_divipola_before_sources_that_resolve_names(dagbag):
    dag = dagbag.dags["sinfonia_extract"]
    assert "extract_divipola" in dag.get_task("extract_esap_asistencias").upstream_task_ids
    assert set(dag.get_task("gate_raw").upstream_task_ids) == {
        "extract_pdet", "extract_idf", "extract_esap_asistencias", "extract_esap_metas",
        "extract_esap_equipos"}


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
    dbt_tasks = [t for t in dag.task_ids if t.startswith("dbt.")]
    assert any("dim_municipality" in t for t in dbt_tasks)
    assert any("fct_technical_assistance" in t for t in dbt_tasks)
    publish = dag.get_task("publish")
    assert publish.upstream_task_ids == {"gate_marts"}
    assert all(t.startswith("dbt.") for t in dag.get_task("gate_marts").upstream_task_ids)
    assert [a.uri for a in publish.outlets] == ["sinfonia://warehouse/marts"]
