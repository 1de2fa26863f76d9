"""
### Transform: dbt build (Cosmos) → marts gate → publish

Runs when any `raw.*` asset is updated by the extract DAG. Cosmos renders the dbt project from
its manifest (seeds, staging views, intermediate models, marts with their tests, in one task per
node); the marts are built in `marts_build`, validated by the Great Expectations marts gate,
and only then published into `marts` in one transaction. A failed test or gate leaves the
published marts as they were.
"""

from __future__ import annotations

from airflow.sdk import AssetAny, dag, task
from cosmos import DbtTaskGroup
from pendulum import datetime

from sinfonia import tasks
from sinfonia.airflow_common import DEFAULT_ARGS, MARTS_ASSET, RAW_ASSETS, cosmos_configs

project, profile, execution, render = cosmos_configs()


@dag(
    dag_id="sinfonia_transform",
    doc_md=__doc__,
    schedule=AssetAny(*RAW_ASSETS.values()),
    start_date=datetime(2025, 1, 1, tz="America/Bogota"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["sinfonia", "dbt"],
)
def sinfonia_transform():
    @task
    def prepare():
        tasks.warehouse_dsn()

    dbt_build = DbtTaskGroup(
        group_id="dbt",
        project_config=project,
        profile_config=profile,
        execution_config=execution,
        render_config=render,
        operator_args={"install_deps": False},
    )

    @task
    def gate_marts(run_id=None):
        return tasks.gate("marts_", run_id, schema_map={"marts": "marts_build"})

    @task(outlets=[MARTS_ASSET])
    def publish(run_id=None):
        return tasks.publish(run_id)

    prepare() >> dbt_build >> gate_marts() >> publish()


sinfonia_transform()
