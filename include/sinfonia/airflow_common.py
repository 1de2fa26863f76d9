"""What every Sinfonía DAG shares: assets, default arguments, the dbt build → gate → publish tail.

Imported by DAG files at parse time, so it must stay cheap: Airflow SDK classes only. No
database, network, dbt or Cosmos import happens here; they are imported when a task runs.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, BaseOperator, task

from sinfonia import tasks

RAW_SOURCES = ("divipola", "pdet", "idf", "esap_asistencias", "esap_metas", "esap_equipos")
RAW_SOURCES += ("mdm", "ipm", "imrc", "cgn_categories")
RAW_ASSETS = {s: Asset(name=f"raw.{s}", uri=f"sinfonia://warehouse/raw/{s}", group="raw") for s in RAW_SOURCES}
# The ESAP exports that drive the weekly monitoring DAG (esap_equipos rows live in `restricted`).
ESAP_ASSETS = tuple(RAW_ASSETS[s] for s in ("esap_asistencias", "esap_metas", "esap_equipos"))
MARTS_ASSET = Asset(name="marts", uri="sinfonia://warehouse/marts", group="marts")
IMPACT_ASSET = Asset(name="marts.mart_impact_estimates", uri="sinfonia://warehouse/marts/mart_impact_estimates",
                     group="marts")

DEFAULT_ARGS = {
    "owner": "sinfonia",
    "retries": 0,  # loads are idempotent; retries are set per task where a retry can help
    "retry_delay": timedelta(minutes=2),
    "on_failure_callback": tasks.record_failure,
}


# dbt builds into one marts_build schema: at most one build at a time across DAGs (the full
# transform and the weekly monitoring DAG can be triggered by the same new export). Created with
# one slot by `airflow pools set` (pipeline.ensure_airflow_db, the compose init job).
DBT_POOL = "sinfonia_dbt"

# What the weekly monitoring DAG rebuilds after a new ESAP export (dbt_project/selectors.yml).
WEEKLY_SELECTOR = "weekly_monitoring"


class DbtBuild(BaseOperator):
    """One ``dbt build`` (seeds, models, tests, in dependency order) run in process by Cosmos.

    One task rather than a Cosmos task per model: on these machines each extra task costs about a
    second of fixed overhead (task start, dbt manifest load, a copy of the project), which made
    the dbt step 2–3 times slower than a single build of the same nodes; dbt still stops at the
    first failed test and the task fails with dbt's message, so the gate and ``publish`` after it
    never run on a broken build.

    Cosmos' operator is built in ``execute``: importing Cosmos when the DAG file is parsed cost
    about 0.3 s per file. ``selector`` (dbt_project/selectors.yml) narrows the build; when the
    warehouse does not yet hold what the narrowed build reads, the whole project is built.
    """

    ui_color = "#ff694b"

    def __init__(self, *, selector: str | None = None, **kwargs):
        kwargs.setdefault("pool", DBT_POOL)
        super().__init__(**kwargs)
        self.selector = selector

    def execute(self, context):
        from sinfonia import dbt

        flags = dbt.selection(self.selector, tasks.warehouse_dsn())
        self.log.info("dbt build %s", " ".join(flags) or "(whole project)")
        build = dbt.cosmos_build(self.task_id, flags)
        # What DbtBuildLocalOperator.execute does, called without Airflow's warning about an
        # operator's execute run from inside another task.
        build.build_and_run_cmd(context=context, cmd_flags=build.add_cmd_flags())


def build_gate_publish(selector: str | None = None):
    """dbt build into ``marts_build`` → the Great Expectations marts gate → ``publish`` into
    ``marts`` in one transaction (write-audit-publish): a failed test or gate leaves the
    published marts as they were. Returns the ``publish`` task, for work that reads the marts."""

    @task
    def gate_marts(run_id=None):
        return tasks.gate("marts_", run_id, schema_map={"marts": "marts_build"})

    @task(outlets=[MARTS_ASSET])
    def publish(run_id=None):
        return tasks.publish(run_id)

    published = publish()
    DbtBuild(task_id="dbt_build", selector=selector) >> gate_marts() >> published
    return published
