"""Fixtures of the DAG-level tests."""

from __future__ import annotations

import pytest

from sinfonia import airflow_common, dbt, pipeline


@pytest.fixture
def offline_run_dags(monkeypatch):
    """``pipeline._run_dags`` with no metadata database, dbt parse, DAG folder or execution API:
    call it with the DAGs to run (name → object with ``tasks`` and ``test(run_conf)``) and the
    DAG ids; returns its timings. ``offline_run_dags.api_calls`` lists the calls that would have
    narrowed the execution API (``pipeline.execution_api_for_this_client``), by their ``app``."""
    calls: list = []
    monkeypatch.setattr(pipeline, "ensure_airflow_db", lambda: None)
    monkeypatch.setattr(dbt, "ensure_manifest", lambda: None)
    monkeypatch.setattr(airflow_common, "for_in_process_run", lambda dag: None)
    monkeypatch.setattr(pipeline, "execution_api_for_this_client", lambda app=None: calls.append(app) or True)

    def run(dags: dict, dag_ids: tuple[str, ...]) -> dict[str, float]:
        monkeypatch.setattr(pipeline, "load_dags", lambda: dags)
        return pipeline._run_dags(dag_ids, {}, lambda line: None, "postgresql://unused")

    run.api_calls = calls
    return run
