"""
### Transform: dbt build (Cosmos) → marts gate → publish

Runs when any `raw.*` asset is updated by the extract DAG. One `dbt build` through Cosmos (seeds,
staging views, intermediate models, marts and their tests, in dependency order) writes the marts
into `marts_build`; the Great Expectations marts gate validates them, and only then are they
published into `marts` in one transaction. A failed dbt test or gate leaves the published marts
as they were.
"""

from __future__ import annotations

from airflow.sdk import AssetAny, dag
from pendulum import datetime

from sinfonia.airflow_common import DEFAULT_ARGS, RAW_ASSETS, build_gate_publish, hold_warehouse


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
    build_gate_publish()
    hold_warehouse()  # one run at a time on the warehouse (sinfonia.runlock)


sinfonia_transform()
