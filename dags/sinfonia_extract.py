"""
### Extract: sources → landing zone → `raw` → raw gate

Lands every file of each source found in the sources folder (run configuration `sources_dir`,
or the `SINFONIA_SOURCES_DIR` variable), parses it, and loads it with COPY into `raw`, one
transaction per source-period (re-running replaces, never duplicates). Rows that cannot be parsed
go to `meta.quarantine` with their reason. The Great Expectations gate on `raw` then runs; only
when it passes are the `raw.*` assets updated, which schedules the transform DAG.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task
from pendulum import datetime

from sinfonia import tasks
from sinfonia.airflow_common import DEFAULT_ARGS, RAW_ASSETS


@dag(
    dag_id="sinfonia_extract",
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2025, 1, 1, tz="America/Bogota"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={"sources_dir": Param(None, type=["null", "string"], description="folder of source files")},
    tags=["sinfonia", "extract"],
)
def sinfonia_extract():
    @task
    def bootstrap():
        tasks.bootstrap()

    @task
    def extract_divipola(params=None):
        return tasks.extract_source("divipola", params)

    @task
    def extract_pdet(params=None):
        return tasks.extract_source("pdet", params)

    @task
    def extract_idf(params=None):
        return tasks.extract_source("idf", params)

    @task
    def extract_esap_asistencias(params=None):
        # After DIVIPOLA: rows that give only names are resolved against it.
        return tasks.extract_source("esap_asistencias", params)

    @task
    def extract_esap_metas(params=None):
        return tasks.extract_source("esap_metas", params)

    @task
    def extract_mdm(params=None):
        return tasks.extract_source("mdm", params)

    @task
    def extract_ipm(params=None):
        # Also loads raw.ipm_privations (the annex's 15 privations sheet).
        return tasks.extract_source("ipm", params)

    @task
    def extract_imrc(params=None):
        return tasks.extract_source("imrc", params)

    @task
    def extract_cgn_categories(params=None):
        return tasks.extract_source("cgn_categories", params)

    @task
    def extract_esap_equipos(params=None):
        # Person level: pseudonymised on landing, loaded into `restricted`, never into `raw`.
        return tasks.extract_source("esap_equipos", params)

    @task(outlets=list(RAW_ASSETS.values()))
    def gate_raw(run_id=None):
        return tasks.gate("raw_", run_id)

    divipola = extract_divipola()
    bootstrap() >> divipola
    extracts = [extract_pdet(), extract_idf(), extract_esap_asistencias(), extract_esap_metas()]
    extracts += [extract_mdm(), extract_ipm(), extract_imrc(), extract_cgn_categories(), extract_esap_equipos()]
    divipola >> extracts >> gate_raw()


sinfonia_extract()
