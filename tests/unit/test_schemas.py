"""The warehouse's schemas have one Python spelling (``sinfonia.config``), and dbt's project and
sources name only those."""

from __future__ import annotations

import re
import subprocess

import yaml

from sinfonia import config, publish, roles


def test_dbt_writes_and_reads_only_the_schemas_config_names():
    project = (config.DBT_DIR / "dbt_project.yml").read_text(encoding="utf-8")
    written = set(re.findall(r"\+schema:\s*(\w+)", project))
    assert written and written <= set(config.DBT_SCHEMAS)
    read = set()
    for path in config.DBT_DIR.glob("models/**/*.yml"):
        for source in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("sources") or []:
            read.add(source.get("schema") or source["name"])
    assert read and read <= set(config.SCHEMAS), read - set(config.SCHEMAS)


def test_the_roles_and_publish_use_config_s_spelling():
    assert roles.ALL_SCHEMAS == config.SCHEMAS and publish.STAGE == config.MARTS_NEXT
    assert set(roles.GRANTS) <= set(config.SCHEMAS)


def test_no_second_python_list_of_schemas():
    """A tuple or list literal holding three or more schema names outside config.py is a second list."""
    names = "|".join(config.SCHEMAS)
    literal = rf"[(\[]\s*\"({names})\"\s*,\s*\"({names})\"\s*,\s*\"({names})\""
    found = subprocess.run(["git", "grep", "-nE", literal, "--", "include", "dags"], cwd=config.ROOT,
                           capture_output=True, text=True).stdout.splitlines()
    assert [line for line in found if not line.startswith("include/sinfonia/config.py:")] == []
