"""dbt settings shared by the CLI, the DAGs (through Cosmos) and the tests."""

from __future__ import annotations

import os
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from sinfonia import config

MANIFEST = config.DBT_DIR / "target" / "manifest.json"


def env_for(dsn: str) -> dict[str, str]:
    """The environment variables profiles.yml reads, from a PostgreSQL URL."""
    info = conninfo_to_dict(dsn)
    return {
        "SINFONIA_DBT_HOST": str(info.get("host") or "127.0.0.1"),
        "SINFONIA_DBT_PORT": str(info.get("port") or 5432),
        "SINFONIA_DBT_USER": str(info.get("user") or os.environ.get("USER", "postgres")),
        "SINFONIA_DBT_PASSWORD": str(info.get("password") or ""),
        "SINFONIA_DBT_DBNAME": str(info.get("dbname") or "postgres"),
    }


def export_env(dsn: str) -> None:
    os.environ.update(env_for(dsn))


def export_configured_env() -> None:
    """When the warehouse is configured (``WAREHOUSE_DSN`` or the connection URL), give dbt the
    same server in this process, without overriding ``SINFONIA_DBT_*`` set explicitly. Called
    when a DAG file is parsed: on a distributed executor each task is its own process, and the
    dbt tasks must not fall back to profiles.yml's defaults."""
    configured = os.environ.get("WAREHOUSE_DSN") or os.environ.get("AIRFLOW_CONN_SINFONIA_WAREHOUSE")
    if configured and configured.startswith("postgres"):
        for key, value in env_for(configured).items():
            os.environ.setdefault(key, value)


def run(args: list[str], dsn: str | None = None) -> None:
    """Run dbt in-process (``dbtRunner``); raises with dbt's message when it fails."""
    from dbt.cli.main import dbtRunner

    if dsn:
        export_env(dsn)
    base = ["--project-dir", str(config.DBT_DIR), "--profiles-dir", str(config.DBT_DIR)]
    result = dbtRunner().invoke([*args, *base])
    if not result.success:
        raise RuntimeError(f"dbt {' '.join(args)} failed: {result.exception or 'see the log above'}")


def ensure_manifest() -> Path:
    """Parse the project when the manifest is missing or older than a project file."""
    newest = max(p.stat().st_mtime for p in config.DBT_DIR.rglob("*")
                 if p.is_file() and "target" not in p.parts and "logs" not in p.parts)
    if not MANIFEST.exists() or MANIFEST.stat().st_mtime < newest:
        run(["parse", "--quiet"])
    return MANIFEST
