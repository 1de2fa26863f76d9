"""
### Monitoring (weekly): the directorates' leaderboard, coverage and teams → marts gate → publish

Runs every Monday morning (Bogotá) and whenever the extract DAG lands a new ESAP export
(`raw.esap_asistencias`, `raw.esap_metas`, `raw.esap_equipos`). One Cosmos dbt task builds only the
monitoring marts and their parents (`mart_directorate_playlist`, `mart_coverage`, `dim_team`,
`mart_team_inclusion`) in one `dbt build --select`, into `marts_build`; the Great Expectations marts gate validates them
and `publish` copies them into `marts` in one transaction. Person-level team rows never leave the
`restricted` schema: only suppressed aggregates are published.
"""

from __future__ import annotations

from airflow.sdk import AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, dag, task
from pendulum import datetime

from sinfonia import tasks
from sinfonia.airflow_common import DEFAULT_ARGS, ESAP_ASSETS, MARTS_ASSET, MONITORING_SELECT, dbt_build


@dag(
    dag_id="sinfonia_monitoring",
    doc_md=__doc__,
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 6 * * 1", timezone="America/Bogota"),
        assets=AssetAny(*ESAP_ASSETS),
    ),
    start_date=datetime(2025, 1, 1, tz="America/Bogota"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["sinfonia", "dbt", "monitoring"],
)
def sinfonia_monitoring():
    @task
    def prepare():
        tasks.warehouse_dsn()

    @task
    def gate_marts(run_id=None):
        return tasks.gate("marts_", run_id, schema_map={"marts": "marts_build"})

    @task(outlets=[MARTS_ASSET])
    def publish(run_id=None):
        return tasks.publish(run_id)

    prepare() >> dbt_build(select=list(MONITORING_SELECT)) >> gate_marts() >> publish()


sinfonia_monitoring()
