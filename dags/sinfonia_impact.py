"""
### Impact: estimates of the effect of assistance on municipal indicators

Runs when the marts are published (the `marts` Asset of the transform DAG, after every yearly
refresh). Reads the published `marts.mart_impact_panel` and writes
`marts.mart_impact_estimates` in one transaction: Callaway–Sant'Anna staggered
difference-in-differences (overall and event-time effects, 95% intervals, pre-trend test,
placebo), the naive comparison and the dose view, for each outcome with yearly data. The
estimates table is not in `marts_build`, so later publications leave it as it is.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from pendulum import datetime

from sinfonia import tasks
from sinfonia.airflow_common import DEFAULT_ARGS, IMPACT_ASSET, MARTS_ASSET


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
    @task(outlets=[IMPACT_ASSET])
    def estimate_impact():
        return tasks.impact()

    estimate_impact()


sinfonia_impact()
