"""
### Impact: estimates of the effect of assistance on municipal indicators

Runs when the marts are published (the `marts` Asset of the transform DAG, after every yearly
refresh). Reads the published `marts.mart_impact_panel` and computes, for each outcome with
yearly data, the Callaway–Sant'Anna staggered difference-in-differences (overall and event-time
effects, 95% intervals, pre-trend test, placebo), the naive comparison and the dose view, into
the working table `intermediate.impact_estimates`. Then, like every mart: dbt builds
`mart_impact_estimates` from it into `marts_build` (contract and tests), the marts gate
validates it, and `publish` copies it into `marts`.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from pendulum import datetime

from sinfonia import tasks
from sinfonia.airflow_common import DEFAULT_ARGS, IMPACT_ASSET, MARTS_ASSET, build_gate_publish, hold_warehouse


@dag(
    dag_id="sinfonia_impact",
    doc_md=__doc__,
    schedule=[MARTS_ASSET],
    start_date=datetime(2025, 1, 1, tz="America/Bogota"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["sinfonia", "impact"],
)
def sinfonia_impact():
    @task
    def estimate_impact():
        return tasks.impact()

    # Publishing updates the estimates' Asset, not `marts` (which schedules this DAG).
    build, _ = build_gate_publish(selector="impact_estimates", outlets=(IMPACT_ASSET,))
    estimate_impact() >> build
    hold_warehouse()  # one run at a time on the warehouse (sinfonia.runlock)


sinfonia_impact()
