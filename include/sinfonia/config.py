"""Where things live and how the pieces find each other.

Everything is derived from the checkout (``ROOT``) unless the environment says otherwise:

- ``SINFONIA_STATE_DIR``: run-time state (embedded warehouse, Airflow home, landing zone);
  default ``<checkout>/.sinfonia``. Tests point it at a throwaway folder.
- ``WAREHOUSE_DSN``: a PostgreSQL URL; when set, the embedded warehouse is not used.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = ROOT / "dags"
DBT_DIR = ROOT / "dbt_project"
EXPECTATIONS_DIR = ROOT / "expectations"

# Schemas of the warehouse (DESIGN.md §2). ``marts_build`` is where dbt writes the marts
# before the gates pass; ``publish`` copies them into ``marts`` in one transaction.
RAW, META, STAGING, INTERMEDIATE, MARTS, MARTS_BUILD = (
    "raw", "meta", "staging", "intermediate", "marts", "marts_build",
)


def state_dir() -> Path:
    return Path(os.environ.get("SINFONIA_STATE_DIR") or ROOT / ".sinfonia").resolve()


def landing_dir() -> Path:
    return state_dir() / "landing"


def airflow_home() -> Path:
    return state_dir() / "airflow"


def airflow_env() -> dict[str, str]:
    """Environment for an embedded Airflow: SQLite metadata under the state folder."""
    home = airflow_home()
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__OPENLINEAGE__DISABLED": "True",
        "DO_NOT_TRACK": "1",
        "SCARF_ANALYTICS": "false",
    }
