"""Every dbt unit test and every test of the seeds, run on their own against an empty warehouse.

dbt's unit tests (``unit_tests:`` in the models' ymls) pin each rule with the smallest hand-built
case: the need score, the privacy suppression of small cells, the leaderboard. In a full build
they run too, but only after seeds, sources and every parent model have been built from a
sample; here the relations are created empty (``dbt run --empty``) and only the unit tests run,
so a rule is checked in seconds and independently of what the sample happens to contain. Each
unit test is reported as its own pytest case, named after it. The seeds the planning office
edits (weights, rules, directorates, suggestion rules) are loaded for real, and their data tests
run as well.
"""

from __future__ import annotations

import json

import pytest

from sinfonia import dbt
from sinfonia.bootstrap import bootstrap

pytestmark = pytest.mark.integration


def _unit_tests() -> list[str]:
    manifest = json.loads(dbt.ensure_manifest().read_text(encoding="utf-8"))
    return sorted(_name(uid) for uid in manifest["unit_tests"])


def _name(unique_id: str) -> str:
    """``unit_test.<project>.<model>.<test>`` → ``<model>::<test>``."""
    _, _, model, test = unique_id.split(".", 3)
    return f"{model}::{test}"


@pytest.fixture(scope="module")
def unit_results(server_dsn):
    from tests.conftest import throwaway_database

    with throwaway_database(server_dsn, "unit") as dsn:
        bootstrap(dsn)
        dbt.run(["seed", "--quiet"], dsn)
        dbt.run(["run", "--empty", "--quiet"], dsn)
        result = dbt.run(["test", "--select", "test_type:unit", "--quiet"], dsn, check=False)
        assert result.result is not None, f"dbt test did not run: {result.exception}"
        statuses = {}
        for r in result.result.results:
            statuses[_name(r.node.unique_id)] = (str(r.status), r.message)
        seeds = dbt.run(["test", "--select", "resource_type:seed", "--quiet"], dsn, check=False)
        assert seeds.result is not None, f"dbt test did not run: {seeds.exception}"
        statuses["seed tests"] = [(r.node.name, str(r.status), r.message) for r in seeds.result.results]
        yield statuses


def test_every_test_of_the_seeds_passes(unit_results):
    results = unit_results["seed tests"]
    assert len(results) >= 10, "the seeds' data tests were not selected"
    failed = [f"{name}: {status} {message or ''}" for name, status, message in results if status != "pass"]
    assert not failed, "\n".join(failed)


def test_the_project_has_unit_tests():
    assert len(_unit_tests()) >= 5


@pytest.mark.parametrize("unit_test", _unit_tests())
def test_dbt_unit_test_passes(unit_results, unit_test):
    status, message = unit_results.get(unit_test, ("not run", "dbt did not report it"))
    assert status == "pass", f"{unit_test}: {status}: {message}"
