"""
### Prioritisation: the yearly need-ranked list of municipalities (snapshot)

Runs once a year, on 15 January (America/Bogota), and writes that year's snapshot of
`marts.mart_prioritisation` (DESIGN.md §6): eligible municipalities (PDET, or category 5–6 in
force), each indicator (MDM, IDF, IMRC, IPM) as published on or before the as-of date, the need
score, ranks, tiers and the selection up to each directorate's goal.

Steps: resolve the parameters → dbt build of the selector `prioritisation_candidate` with the
year, as-of date and force as dbt vars (the seeds' checks, the year computed and tested) → the
certainty of the list (a seeded Monte Carlo over weights, normalisation and vintages,
`sinfonia.certainty`) → dbt build of the selector `prioritisation_publish` (the year appended to
the incremental `mart_prioritisation` in `marts_build`, its certainty, the characterisation sheets) →
the marts gate → `publish` → the run recorded in `meta.prioritisation_run` with its weights, rules
and input versions.

Backfillable: the year is the logical date's year (a backfill of past years snapshots each one).
Run configuration: `year` (else the logical date's year; a manual run with no year takes the
latest year with goals), `as_of_date` (else 15 January of the year), `force` (a year already
snapshotted is kept unless `force` is true). `sinfonia prioritise --year Y` triggers this DAG.
"""

from __future__ import annotations

from airflow.sdk import Asset, CronTriggerTimetable, Param, dag, task
from pendulum import datetime

from sinfonia import tasks
from sinfonia.airflow_common import DEFAULT_ARGS, MARTS_ASSET, DbtBuild, build_gate_publish, hold_warehouse

PRIORITISATION_ASSET = Asset(name="marts.mart_prioritisation",
                             uri="x-sinfonia://warehouse/marts/mart_prioritisation", group="marts")


@dag(
    dag_id="sinfonia_prioritisation",
    doc_md=__doc__,
    # Yearly, with its logical date in mid-January (Bogotá): the year's list once the previous
    # year's releases are in.
    schedule=CronTriggerTimetable("0 6 15 1 *", timezone="America/Bogota"),
    start_date=datetime(2020, 1, 1, tz="America/Bogota"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "year": Param(None, type=["null", "integer"], description="prioritisation year"),
        "as_of_date": Param(None, type=["null", "string"], format="date",
                            description="use only what was published on or before this date"),
        "force": Param(False, type="boolean", description="rewrite a year already snapshotted"),
    },
    tags=["sinfonia", "prioritisation"],
)
def sinfonia_prioritisation():
    @task(inlets=[MARTS_ASSET])
    def resolve_parameters(params=None, logical_date=None, dag_run=None):
        return tasks.prioritisation_plan(params, logical_date, getattr(dag_run, "run_type", None))

    @task(outlets=[PRIORITISATION_ASSET])
    def snapshot(plan: dict, run_id=None):
        return tasks.record_prioritisation(plan, run_id)

    @task
    def certainty(plan: dict):
        return tasks.prioritisation_certainty(plan)

    dbt_vars = "{{ ti.xcom_pull(task_ids='resolve_parameters')['dbt_vars'] }}"
    plan = resolve_parameters()
    candidate = DbtBuild(task_id="dbt_build_candidate", selector="prioritisation_candidate", dbt_vars=dbt_vars)
    build, published = build_gate_publish(selector="prioritisation_publish", dbt_vars=dbt_vars, outlets=())
    plan >> candidate >> certainty(plan) >> build
    published >> snapshot(plan)
    hold_warehouse()  # one run at a time on the warehouse (sinfonia.runlock)


sinfonia_prioritisation()
