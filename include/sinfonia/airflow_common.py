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
    ``dbt_vars`` (templated: a JSON object, e.g. from an upstream task's XCom) is dbt's ``--vars``.
    """

    ui_color = "#ff694b"
    template_fields = ("dbt_vars",)

    def __init__(self, *, selector: str | None = None, dbt_vars: str | None = None, **kwargs):
        kwargs.setdefault("pool", DBT_POOL)
        super().__init__(**kwargs)
        self.selector = selector
        self.dbt_vars = dbt_vars

    def execute(self, context):
        from sinfonia import dbt

        flags = dbt.selection(self.selector, tasks.warehouse_dsn())
        if self.dbt_vars:
            flags += ["--vars", self.dbt_vars]
        self.log.info("dbt build %s", " ".join(flags) or "(whole project)")
        build = dbt.cosmos_build(self.task_id, flags)
        # What DbtBuildLocalOperator.execute does, called without Airflow's warning about an
        # operator's execute run from inside another task.
        build.build_and_run_cmd(context=context, cmd_flags=build.add_cmd_flags())


def build_gate_publish(selector: str | None = None, dbt_vars: str | None = None,
                       outlets: tuple[Asset, ...] = (MARTS_ASSET,)):
    """dbt build into ``marts_build`` → the Great Expectations marts gate → ``publish`` into
    ``marts`` in one transaction (write-audit-publish): a failed test or gate leaves the
    published marts as they were. Every mart in ``marts_build`` is gated, as ``publish`` copies
    them all. Returns the first and the last task, for DAGs that add steps around them."""

    @task
    def gate_marts(run_id=None):
        return tasks.gate("marts_", run_id, schema_map={"marts": "marts_build"})

    @task(outlets=list(outlets))
    def publish(run_id=None):
        return tasks.publish(run_id)

    build = DbtBuild(task_id="dbt_build", selector=selector, dbt_vars=dbt_vars)
    published = publish()
    build >> gate_marts() >> published
    return build, published
