"""What every Sinfonía DAG shares: assets, default arguments and retries, the extract tasks
generated from the source catalogue, the dbt build → gate → publish tail.

Imported by DAG files at parse time, so it must stay cheap: Airflow SDK classes and the
catalogue's listing (``sources.LISTING``: names and order, no parser module) only. No database,
network, dbt or Cosmos work happens here, and no parser, pandas, psycopg or GX module is
imported (tests/dags/test_parse_imports.py); they are imported when a task runs.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

from airflow.sdk import Asset, BaseOperator, task
from airflow.sdk.definitions.retry_policy import RetryDecision, RetryPolicy

from sinfonia import config, tasks
from sinfonia.ingest.sources import LISTING

# "x-" URI schemes are Airflow's private ones: no provider normaliser is looked up, so parsing a DAG file
# does not load every provider's asset handlers (the amazon provider's imported its S3 hook: 0.45 s).
RAW_ASSETS = {s.name: Asset(name=f"raw.{s.name}", uri=f"x-sinfonia://warehouse/raw/{s.name}", group="raw")
              for s in LISTING}
# The ESAP exports that drive the weekly monitoring DAG (esap_equipos rows live in `restricted`).
ESAP_ASSETS = tuple(RAW_ASSETS[s.name] for s in LISTING if s.drives_monitoring)
MARTS_ASSET = Asset(name="marts", uri="x-sinfonia://warehouse/marts", group="marts")
IMPACT_ASSET = Asset(name="marts.mart_impact_estimates", uri="x-sinfonia://warehouse/marts/mart_impact_estimates",
                     group="marts")


class FailFastOnBadInput(RetryPolicy):
    """Retry what can fail transiently (the warehouse unreachable, a lock, a dbt connection); fail
    at once on what a retry cannot mend: a file that cannot be read as its source, a failed
    gate, a wrong parameter or setting. Every task is one transaction (or idempotent), so a retry
    starts from the state the failed try left untouched.

    Exceptions are named by import path and imported only when a task fails, so that parsing a DAG
    file imports none of the modules that define them.
    """

    PERMANENT = {
        "builtins.ValueError": "bad input or parameter",  # includes SourceFormatError, bad JSON, bad dates
        "builtins.FileNotFoundError": "a file or folder that does not exist",
        "sinfonia.gates.GateFailed": "critical expectations failed on the data",
        "sinfonia.ingest.pii.MissingKeyError": "the pseudonymisation key is missing or too short",
        "psycopg.DataError": "a value the warehouse refuses",
        "psycopg.IntegrityError": "a constraint the data breaks",
        "psycopg.ProgrammingError": "an SQL error",
        # A weekly message the mail server refused: the next run of the week sends only the unsent
        # ones (meta.notification_sent), so the run fails at once instead of resending minutes later.
        "sinfonia.notify.NotSent": "a message the mail server did not accept",
    }

    @classmethod
    def permanent(cls, exception: BaseException) -> str | None:
        """Why retrying ``exception`` cannot help, or None when it may be transient."""
        for path, why in cls.PERMANENT.items():
            module, _, name = path.rpartition(".")
            try:
                kind = getattr(import_module(module), name)
            except ImportError:
                continue
            if isinstance(exception, kind):
                return why
        return None

    def evaluate(self, exception, try_number, max_tries, context=None) -> RetryDecision:
        why = self.permanent(exception)
        if why:
            return RetryDecision.fail(f"not retried: {why} ({type(exception).__name__})")
        return RetryDecision.default()


DEFAULT_ARGS = {
    "owner": "sinfonia",
    # Transient failures are retried with exponential backoff (1, 2, ... minutes, at most 10);
    # bad input fails at once (FailFastOnBadInput).
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
    "retry_policy": FailFastOnBadInput(),
    "on_failure_callback": tasks.record_failure,
    # Every task first checks that its run still holds the warehouse (hold_warehouse below).
    "pre_execute": tasks.guard_warehouse,
}

# `sinfonia run` (dag.test(), in process) waits for a retry in its own loop: short delays there.
IN_PROCESS_RETRY = {"retry_delay": timedelta(seconds=1), "max_retry_delay": timedelta(seconds=4)}


def for_in_process_run(dag) -> None:
    """Shorten the retry delays of ``dag``'s tasks for a run driven by ``dag.test()``."""
    for t in dag.tasks:
        for name, value in IN_PROCESS_RETRY.items():
            setattr(t, name, value)


def hold_warehouse() -> None:
    """Called last in every DAG's body: ``take_warehouse`` before every other task and
    ``release_warehouse`` after them all, as its teardown (it runs whatever they did), so that a
    DAG run, however it was started, holds the warehouse alone (``sinfonia.runlock``)."""
    from airflow.sdk.definitions._internal.contextmanager import DagContext

    dag = DagContext.get_current()
    others = list(dag.tasks)
    take = task(tasks.take_warehouse, task_id="take_warehouse")()
    release = task(tasks.release_warehouse, task_id="release_warehouse")()
    for t in others:
        if not t.upstream_list:
            take >> t
        if not t.downstream_list:
            t >> release
    release.as_teardown(setups=take)


def extract_tasks() -> None:
    """bootstrap → ``land`` → one ``extract_<source>`` task per source of the catalogue → ``gate_raw``.

    ``land`` lands every source's files (``tasks.land_sources``) in the landing zone's store
    (``SINFONIA_STORE_URL``) and runs on the ``SINFONIA_LANDING_QUEUE`` Celery queue when one is
    set (the workers that see the sources folder); each extract task parses its source's landed
    files on any worker. A source waits for the sources it names in ``after``; the raw gate waits
    for them all, and only when it passes are the ``raw.*`` Assets updated.
    """

    @task
    def bootstrap():
        tasks.bootstrap()

    @task(outlets=list(RAW_ASSETS.values()))
    def gate_raw(run_id=None):
        return tasks.gate("raw_", run_id)

    queue = config.landing_queue()
    land = task(tasks.land_sources, task_id="land", **({"queue": queue} if queue else {}))
    start, made = bootstrap(), {}
    landed = land()
    start >> landed
    for spec in LISTING:
        extract = task(tasks.extract_source, task_id=spec.task_id, doc_md=spec.note or None)
        made[spec.name] = extract(spec.name, landed)
        for after in spec.after:
            made[after] >> made[spec.name]
    list(made.values()) >> gate_raw()


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
    ``dbt_vars`` (templated: a JSON object, e.g. from an upstream task's XCom) are a prioritisation
    run's parameters, given to dbt through its environment (``dbt.parameters_env``).
    """

    ui_color = "#ff694b"
    template_fields = ("dbt_vars",)

    def __init__(self, *, selector: str | None = None, dbt_vars: str | None = None, **kwargs):
        kwargs.setdefault("pool", DBT_POOL)
        super().__init__(**kwargs)
        self.selector = selector
        self.dbt_vars = dbt_vars

    def execute(self, context):
        from sinfonia import dbt, prioritisation, warehouse

        dsn = warehouse.dsn()
        # The seed files as written (a decimal comma quoted with its file), and no stored test
        # failure of an earlier run left to be reported as this one's.
        prioritisation.check_seed_files(dsn)
        selection = dbt.selection(self.selector, dsn)
        flags = [*selection, *dbt.PRODUCTION_FLAGS]
        self.log.info("dbt build %s %s%s", " ".join(selection) or "(whole project)", " ".join(flags[len(selection):]),
                      f" with the prioritisation parameters {self.dbt_vars}" if self.dbt_vars else "")
        try:
            # Cosmos' public entry point (Airflow logs that an operator's execute runs inside this task).
            with dbt.connection(dsn) as profiles:
                dbt.cosmos_build(self.task_id, flags, profiles, self.dbt_vars).execute(context)
        except Exception as exc:
            from sinfonia import prioritisation

            # The seeds the planning office edits: their tests say, row by row, what is wrong.
            problems = prioritisation.seed_problems(dsn)
            if problems:  # a ValueError: bad input, failed at once (a retry cannot fix a seed)
                raise ValueError("the planning office's seeds are not valid: " + "; ".join(problems)) from exc
            missing = dbt.missing_sources(str(exc))
            if missing:  # never extracted: a retry finds the same empty warehouse
                raise ValueError(f"{', '.join(missing)} not found in the warehouse: nothing was extracted "
                                 "into it; run the extract DAG (`sinfonia run --sources DIR`) first") from exc
            failed = dbt.data_test_failures(str(exc))
            if failed:  # the data break the project's tests: a retry would only find them again
                raise dbt.DataTestsFailed(f"dbt data tests failed on the data ({', '.join(failed)}): {exc}") from exc
            violated = dbt.constraint_violations(str(exc))
            if violated:  # a model's contract (a NOT NULL column, say): a retry builds the same rows
                raise dbt.DataTestsFailed(f"rows break a model's contract ({'; '.join(violated)}): {exc}") from exc
            raise


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
