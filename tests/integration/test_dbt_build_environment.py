"""A dbt build that Cosmos runs in the pipeline's process leaves that process's environment as it
found it. The build's own environment (a prioritisation run's parameters, ``dbt.parameters_env``)
is the build's: Cosmos' OpenLineage step copied it into ``os.environ`` after every build, where it
outlived the build (``dbt.cosmos_build`` leaves that step out)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

BUILD = """
import json, os, sys
from sinfonia import dbt

before = dict(os.environ)
with dbt.connection(sys.argv[1]) as profiles:
    dbt.cosmos_build("dbt_build", ["--select", "dim_date", "--indirect-selection", "cautious", *dbt.PRODUCTION_FLAGS], profiles,
                     '{"prioritisation_year": 2024}').execute({"run_id": "probe"})
print(json.dumps({k: v for k, v in os.environ.items() if before.get(k) != v}))
"""


def test_a_build_given_parameters_leaves_them_out_of_the_process_environment(fresh_dsn, state_dir):
    proc = subprocess.run([sys.executable, "-c", BUILD, fresh_dsn], capture_output=True, text=True,
                          env={**os.environ, "WAREHOUSE_DSN": fresh_dsn}, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "PASS=" in proc.stdout and "ERROR=0" in proc.stdout  # dim_date and its tests were built
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {}
