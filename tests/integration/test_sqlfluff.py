"""sqlfluff (PostgreSQL dialect) over every model, macro and data test: what `make lint` runs after ruff
(`make test` runs it as one of its test modules).

The rules and each exception with its reason are in ``dbt_project/.sqlfluff``. The dbt templater
compiles each model and singular data test through dbt, and dbt opens a connection to compile
(``is_incremental()`` and ``adapter.get_relation`` ask the database), so that lint runs against a
throwaway database: that is why it lives with the integration tests. The dbt templater skips
macros and generic tests (they are not nodes), so those are linted with the jinja templater and
dbt's builtins, which needs no database.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sinfonia import config, dbt

pytestmark = pytest.mark.integration


def _sqlfluff(*args: str, env: dict | None = None) -> None:
    exe = Path(sys.executable).with_name("sqlfluff")
    proc = subprocess.run(
        [str(exe), "lint", *args, "--disable-progress-bar", "--nocolor"],
        cwd=config.DBT_DIR, capture_output=True, text=True, timeout=600, env=env,
    )
    assert proc.returncode == 0, f"sqlfluff found problems:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    assert "FAIL" not in proc.stdout


def test_models_and_singular_data_tests_pass_sqlfluff(fresh_dsn, tmp_path):
    # dbt's artefacts (its partial parse) in a folder of the test's, not the project's target/,
    # which other tests read while this one runs beside them.
    _sqlfluff("models", "tests", env={**os.environ, **dbt.env_for(fresh_dsn), "DBT_TARGET_PATH": str(tmp_path)})


def test_macros_and_generic_data_tests_pass_sqlfluff():
    _sqlfluff("macros", "tests/generic", "--templater", "jinja")
