"""sqlfluff (dbt templater, PostgreSQL dialect) over every model: part of `make test`.

The rules and each exception with its reason are in ``dbt_project/.sqlfluff``. The dbt templater
compiles each model through dbt, and dbt opens a connection to compile (``is_incremental()`` asks
the database whether the table exists), so the lint runs against a throwaway database: that is
why it lives with the integration tests.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sinfonia import config, dbt

pytestmark = pytest.mark.integration


def test_models_pass_sqlfluff(fresh_dsn):
    exe = Path(sys.executable).with_name("sqlfluff")
    proc = subprocess.run(
        [str(exe), "lint", "models", "--disable-progress-bar", "--nocolor"],
        cwd=config.DBT_DIR, capture_output=True, text=True, timeout=600,
        env={**os.environ, **dbt.env_for(fresh_dsn)},
    )
    assert proc.returncode == 0, f"sqlfluff found problems:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    assert "FAIL" not in proc.stdout
