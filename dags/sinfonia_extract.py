"""
### Extract: sources → landing zone → `raw` → raw gate

The `land` task lands every file of every source found in the sources folder (run configuration
`sources_dir`, or the `SINFONIA_SOURCES_DIR` variable), or only the files of `files`
(`sinfonia extract`), in the landing zone (`SINFONIA_STORE_URL`:
a local folder or an S3 bucket). Then one task per source of the catalogue
(`sinfonia.ingest.sources.LISTING`), after the sources it needs (the ESAP assistances after DIVIPOLA, to
resolve names), parses its landed files, on any worker, and loads them with COPY into `raw`
(person-level rows into `restricted`), one transaction per source-period (re-running replaces,
never duplicates). Rows that cannot be parsed
go to `meta.quarantine` with their reason. The Great Expectations gate on `raw` then runs; only
when it passes are the `raw.*` assets updated, which schedules the transform DAG.
"""

from __future__ import annotations

from airflow.sdk import Param, dag
from pendulum import datetime

from sinfonia.airflow_common import DEFAULT_ARGS, extract_tasks, hold_warehouse


@dag(
    dag_id="sinfonia_extract",
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2025, 1, 1, tz="America/Bogota"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "sources_dir": Param(None, type=["null", "string"], description="folder of source files"),
        # `sinfonia extract SOURCE --from …`: only these files (per source), their origins (URLs),
        # the period of sources that need one, and reload files already loaded.
        "files": Param(None, type=["null", "object"], description="{source: [file paths]}: only these"),
        "origins": Param(None, type=["null", "object"], description="{file path: URL it came from}"),
        "period": Param(None, type=["null", "string"], description="the period (year) of given-period sources"),
        "force": Param(False, type="boolean", description="reload files already loaded"),
    },
    tags=["sinfonia", "extract"],
)
def sinfonia_extract():
    extract_tasks()  # one task per source of the catalogue (sinfonia.ingest.sources.LISTING)
    hold_warehouse()  # one run at a time on the warehouse (sinfonia.runlock)


sinfonia_extract()
