"""Where things live and how the pieces find each other.

Everything is derived from the checkout (``ROOT``) unless the environment says otherwise:

- ``SINFONIA_STATE_DIR``: this machine's run-time state (embedded warehouse, Airflow home, caches);
  default ``<checkout>/.sinfonia``. Tests point it at a throwaway folder.
- ``SINFONIA_STORE_URL``: where the state that tasks exchange lives: the landing zone
  (``<store>/landing``) and the failed tasks' records (``<store>/failures``). ``file:///folder``
  (default: ``file://<state dir>``, so the landing zone is ``<state dir>/landing``) or
  ``s3://[conn_id@]bucket[/prefix]`` on an S3-compatible object store, read and written through
  Airflow's ``ObjectStoragePath``; ``conn_id`` names the Airflow connection (type ``aws``) with its
  credentials and, for a non-AWS server, ``endpoint_url`` in its extra (else boto's own chain).
  Celery workers on other machines then share the landing zone without a shared disk.
- ``SINFONIA_LANDING_QUEUE``: the Celery queue of the extract DAG's ``land`` task (the workers that
  see the sources folder); default Airflow's default queue.
- ``WAREHOUSE_DSN``: a PostgreSQL URL; when set, the embedded warehouse is not used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # airflow.sdk is imported when a path is resolved, not when the module is
    from airflow.sdk import ObjectStoragePath

ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = ROOT / "dags"
DBT_DIR = ROOT / "dbt_project"
EXPECTATIONS_DIR = ROOT / "expectations"

# Schemas of the warehouse (DESIGN.md §2): the one Python spelling of each (dbt's are its
# dbt_project.yml's and its sources'; tests/unit/test_schemas.py checks they agree). ``marts_build`` is where dbt
# writes the marts before the gates pass; ``publish`` stages them in ``marts_next`` and swaps them
# into ``marts`` in one transaction; ``restricted`` holds person-level rows, never granted to analysts.
RAW, META, RESTRICTED, SEEDS, STAGING, INTERMEDIATE, MARTS_BUILD, MARTS_NEXT, MARTS = (
    "raw", "meta", "restricted", "seeds", "staging", "intermediate", "marts_build", "marts_next", "marts",
)
DBT_SCHEMAS = (SEEDS, STAGING, INTERMEDIATE, MARTS_BUILD, MARTS_NEXT, MARTS)
SCHEMAS = (RAW, META, RESTRICTED, *DBT_SCHEMAS)


def state_dir() -> Path:
    return Path(os.environ.get("SINFONIA_STATE_DIR") or ROOT / ".sinfonia").resolve()


STORE_URL_ENV = "SINFONIA_STORE_URL"
LANDING_QUEUE_ENV = "SINFONIA_LANDING_QUEUE"
STORE_SCHEMES = ("file", "s3")


@dataclass(frozen=True)
class Store:
    """The parsed ``SINFONIA_STORE_URL``: ``file`` (``path`` an absolute folder) or ``s3``
    (``bucket``, ``prefix`` without slashes at its ends, ``conn_id`` or None)."""

    scheme: str
    path: str = ""
    bucket: str = ""
    prefix: str = ""
    conn_id: str | None = None

    @property
    def url(self) -> str:
        """The URL without the connection id (for messages and logs)."""
        if self.scheme == "file":
            return f"file://{self.path}"
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def parse_store_url(value: str) -> Store:
    """``file:///absolute/folder`` or ``s3://[conn_id@]bucket[/prefix]``; anything else is a
    ValueError naming the setting, the value and what was expected."""
    expected = (f"expected file:///absolute/folder or s3://[conn_id@]bucket[/prefix] in {STORE_URL_ENV}")
    raw = (value or "").strip()
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in STORE_SCHEMES:
        why = f"scheme {parts.scheme!r} is not supported" if parts.scheme else "it has no scheme"
        raise ValueError(f"{STORE_URL_ENV}={raw!r}: {why}; {expected}")
    if parts.query or parts.fragment:
        raise ValueError(f"{STORE_URL_ENV}={raw!r}: a query or fragment is not allowed; {expected}")
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(f"{STORE_URL_ENV}={raw!r}: not an absolute local folder "
                             f"(three slashes: file:///srv/sinfonia); {expected}")
        return Store("file", path=str(Path(parts.path).resolve()))
    conn_id, at, bucket = parts.netloc.rpartition("@")
    if not bucket:
        raise ValueError(f"{STORE_URL_ENV}={raw!r}: no bucket; {expected}")
    if at and not conn_id:
        raise ValueError(f"{STORE_URL_ENV}={raw!r}: an empty connection id before '@'; {expected}")
    if ":" in conn_id:
        raise ValueError(f"{STORE_URL_ENV}={raw!r}: credentials do not go in the URL: put them in the "
                         f"Airflow connection and name its id before '@'; {expected}")
    return Store("s3", bucket=bucket, prefix=parts.path.strip("/"), conn_id=conn_id or None)


def store() -> Store:
    """The store the setting names; the state folder when it is unset."""
    value = os.environ.get(STORE_URL_ENV)
    return parse_store_url(value) if value and value.strip() else Store("file", path=str(state_dir()))


def store_root() -> ObjectStoragePath:
    """The store's root as Airflow's ``ObjectStoragePath`` (fsspec underneath; the connection's
    credentials for ``s3``)."""
    from airflow.sdk import ObjectStoragePath

    where = store()
    if where.scheme == "file":
        from airflow.sdk.io import attach
        from fsspec.implementations.local import LocalFileSystem

        # Airflow's own local filesystem, attached up front: resolving it through the providers'
        # filesystems would import every provider's (about a second in each task process).
        attach("file", fs=LocalFileSystem())
    return ObjectStoragePath(where.url, conn_id=where.conn_id)


def landing_root() -> ObjectStoragePath:
    return store_root() / "landing"


def landing_dir() -> Path:
    """The landing zone as a local folder; only for a ``file://`` store (tests, local tools)."""
    where = store()
    if where.scheme != "file":
        raise ValueError(f"the landing zone is on {where.url}, not a local folder ({STORE_URL_ENV})")
    return Path(where.path) / "landing"


def landing_cache_dir() -> Path:
    """This machine's copies of landed files held on an object store (parsers read local files);
    addressed by SHA-256 like the landing zone, so a copy is valid for as long as it exists."""
    return state_dir() / "landing-cache"


def landing_queue() -> str | None:
    return os.environ.get(LANDING_QUEUE_ENV) or None


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
