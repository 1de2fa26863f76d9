"""A dbt build that Cosmos runs in the pipeline's process (``dbt.cosmos_build``):

- leaves that process's environment as it found it. The build's own environment (a prioritisation
  run's parameters, ``dbt.parameters_env``) is the build's: Cosmos' OpenLineage step copied it into
  ``os.environ`` after every build, where it outlived the build (that step is left out);
- asks dbt for no log file and no JSON artefacts, and hands its partial-parse file to the next
  build, with no manifest beside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

BUILD = """
import json, os, sys
from sinfonia import dbt

before = dict(os.environ)
for _ in range(2):
    with dbt.connection(sys.argv[1]) as profiles:
        dbt.cosmos_build("dbt_build", ["--select", "dim_date", "--indirect-selection", "cautious",
                                       *dbt.PRODUCTION_FLAGS], profiles,
                         '{"prioritisation_year": 2024}').execute({"run_id": "probe"})
print(json.dumps({k: v for k, v in os.environ.items() if before.get(k) != v}))
"""


def test_builds_leave_the_process_environment_alone_and_hand_on_their_partial_parse(fresh_dsn, tmp_path):
    proc = subprocess.run([sys.executable, "-c", BUILD, fresh_dsn], capture_output=True, text=True,
                          env={**os.environ, "WAREHOUSE_DSN": fresh_dsn, "SINFONIA_STATE_DIR": str(tmp_path)},
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.count("ERROR=0") == 2 and "PASS=0" not in proc.stdout  # dim_date and its tests, twice
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {}
    # The first build parses the project for this profile (the install's parse had another); the
    # second reads what the first kept, the partial-parse file alone.
    # dbt was asked for no log file and no JSON artefacts (Cosmos deletes its copy of the project)
    [command, _] = [line for line in proc.stdout.splitlines() if line.startswith(" ['build'")]
    assert "'--log-level-file', 'none'" in command and "'--no-write-json'" in command
    first, second = proc.stdout.split("Running with dbt")[1:]
    assert "Unable to do partial parsing because profile has changed" in first
    assert "Unable to do partial parsing" not in second
    kept = tmp_path / "cosmos" / "partial-parse" / "target"
    assert f"latest partial parse file is {kept / 'partial_parse.msgpack'}" in first.split("Done.")[-1]
    assert sorted(p.name for p in kept.iterdir()) == ["partial_parse.msgpack"]
