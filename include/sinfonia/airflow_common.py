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

RAW_SOURCES = ("divipola", "pdet", "idf", "esap_asistencias", "esap_metas")
RAW_ASSETS = {s: Asset(name=f"raw.{s}", uri=f"sinfonia://warehouse/raw/{s}", group="raw") for s in RAW_SOURCES}
MARTS_ASSET = Asset(name="marts", uri="sinfonia://warehouse/marts", group="marts")

DEFAULT_ARGS = {
    "owner": "sinfonia",
    "retries": 0,  # loads are idempotent; retries are set per task where a retry can help
    "retry_delay": timedelta(minutes=2),
    "on_failure_callback": record_failure,
}


def _no_task(**_kwargs):
    return None


def cosmos_configs():
    """ProjectConfig, ProfileConfig, ExecutionConfig and RenderConfig for the dbt task groups."""
    from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import DbtResourceType, ExecutionMode, InvocationMode, LoadMode, TestBehavior

    manifest = config.DBT_DIR / "target" / "manifest.json"
    project = ProjectConfig(
        dbt_project_path=config.DBT_DIR,
        manifest_path=manifest if manifest.exists() else None,
        project_name="sinfonia",
        partial_parse=True,
    )
    profile = ProfileConfig(
        profile_name="sinfonia", target_name="warehouse",
        profiles_yml_filepath=config.DBT_DIR / "profiles.yml",
    )
    execution = ExecutionConfig(
        execution_mode=ExecutionMode.LOCAL,
        invocation_mode=InvocationMode.DBT_RUNNER,
        # dbt lives beside this interpreter; used only if the manifest is missing (dbt ls).
        dbt_executable_path=Path(sys.executable).with_name("dbt"),
    )
    render = RenderConfig(
        load_method=LoadMode.DBT_MANIFEST if manifest.exists() else LoadMode.DBT_LS,
        test_behavior=TestBehavior.BUILD,
        # Relationship tests have two parents: run them after both are built.
        should_detach_multiple_parents_tests=True,
        # Exposures document the marts' consumers (the report, BI): no task to run for them.
        node_converters={DbtResourceType.EXPOSURE: _no_task},
    )
    return project, profile, execution, render
