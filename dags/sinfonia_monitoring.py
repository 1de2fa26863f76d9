"""
### Monitoring (weekly): the directorates' leaderboard, coverage and teams → marts gate → publish

Runs every Monday morning (Bogotá) and whenever the extract DAG lands a new ESAP export
(`raw.esap_asistencias`, `raw.esap_metas`, `raw.esap_equipos`). One Cosmos dbt task rebuilds what
those exports change, up to the monitoring marts (`mart_directorate_playlist`, `mart_coverage`,
`dim_team`, `mart_team_inclusion`): dbt selector `weekly_monitoring`, reading the rest of the
project where the last full transform left it in `marts_build` (on a warehouse where it has never
run, the whole project is built). The Great Expectations marts gate validates every mart and
`publish` copies them into `marts` in one transaction. Person-level team rows never leave the
`restricted` schema: only suppressed aggregates are published.

After `publish`, `notify_directorates` sends each directorate its weekly message in Spanish (place
in the leaderboard and change since last week, goal completion, open-work list) through Airflow's
SMTP notifier on the connection `sinfonia_smtp`, to the addresses of the dbt seed
`directorate_recipients`; once per directorate and export week (`meta.notification_sent`). Without
the connection the task is skipped; a failed send fails this task only, after the marts are
published (see `sinfonia.notify`).
"""

from __future__ import annotations

from airflow.sdk import AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, dag, task
from pendulum import datetime

from sinfonia.airflow_common import DEFAULT_ARGS, ESAP_ASSETS, WEEKLY_SELECTOR, build_gate_publish, hold_warehouse


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
    def notify_directorates(**context):
        from sinfonia import notify  # when the task runs: parsing this file needs none of it

        return notify.run_task(context)

    _build, published = build_gate_publish(selector=WEEKLY_SELECTOR)
    published >> notify_directorates()
    hold_warehouse()  # one run at a time on the warehouse (sinfonia.runlock)


sinfonia_monitoring()
