"""What every Sinfonía DAG shares: assets, default arguments, the Cosmos configuration.

Imported by DAG files at parse time, so it must stay cheap: Airflow SDK and Cosmos classes only,
no database, network or dbt parsing (Cosmos renders from a manifest built beforehand).
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from airflow.sdk import Asset

from sinfonia import config
from sinfonia.tasks import record_failure

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
    "on_failure_callback": record_failure,
}


# dbt builds into one marts_build schema: at most one build at a time across DAGs (the full
# transform and the weekly monitoring DAG can be triggered by the same new export). Created with
# one slot by `airflow pools set` (pipeline.ensure_airflow_db, the compose init job).
DBT_POOL = "sinfonia_dbt"

# What the weekly monitoring DAG rebuilds: the monitoring marts and everything they read.
MONITORING_SELECT = ("+mart_directorate_playlist", "+mart_coverage", "+dim_team", "+mart_team_inclusion")


def dbt_build(task_id: str = "dbt_build", select: list[str] | None = None, **kwargs):
    """One ``dbt build`` (seeds, models, tests, in dependency order) run through Cosmos in process.

    One task rather than a Cosmos task per model: on these machines each extra task costs about a
    second of fixed overhead (task start, dbt manifest load, a copy of the project), which made
    the dbt step 2–3 times slower than a single build of the same nodes; dbt still stops at the
    first failed test and the task fails with dbt's message, so the gates and ``publish`` after it
    never run on a broken build. ``select`` narrows it (the weekly monitoring path).
    """
    from cosmos import ProfileConfig
    from cosmos.constants import InvocationMode
    from cosmos.operators.local import DbtBuildLocalOperator

    from sinfonia import dbt

    dbt.export_configured_env()  # each Celery task process parses the DAG file: dbt's server
    profile = ProfileConfig(
        profile_name="sinfonia", target_name="warehouse",
        profiles_yml_filepath=config.DBT_DIR / "profiles.yml",
    )
    if select:
        # Only the tests whose parents are all selected (the default, eager, also picks tests that
        # reach into unselected marts, such as a relationship to dim_date).
        kwargs.setdefault("dbt_cmd_flags", ["--indirect-selection", "cautious"])
    return DbtBuildLocalOperator(
        task_id=task_id,
        pool=DBT_POOL,
        project_dir=str(config.DBT_DIR),
        profile_config=profile,
        invocation_mode=InvocationMode.DBT_RUNNER,
        dbt_executable_path=str(Path(sys.executable).with_name("dbt")),
        install_deps=False,
        select=select or [],
        **kwargs,
    )

