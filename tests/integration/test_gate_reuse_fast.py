"""A gate validates a suite again only when something it reads changed since it last passed: the
same rows are not asked the same questions twice, and any change (a row of the asset, a row of a
table only a check's query reads, the suite's own text) is validated."""

from __future__ import annotations

import json

import psycopg
import pytest

from sinfonia import config, gates
from sinfonia.bootstrap import bootstrap

pytestmark = pytest.mark.integration

SUITE = {
    "name": "raw_reuse",
    "meta": {"asset": {"schema": "raw", "table": "reuse_scores"}},
    "expectations": [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "score", "min_value": 0, "max_value": 10},
         "severity": "critical"},
        {"type": "unexpected_rows_expectation", "description": "every code is a known code",
         "kwargs": {"unexpected_rows_query": "select * from {batch} where code not in (select code from raw.reuse_codes)"},
         "severity": "critical"},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "weight", "min_value": 0, "max_value": 1},
         "severity": "warning"},
    ],
}


@pytest.fixture
def gate(fresh_dsn, tmp_path, monkeypatch):
    """The gate ``raw_`` with one suite (``SUITE``) over two small tables; returns a function that
    runs it and gives (gate_run row, report) of that run."""
    (tmp_path / "expectations").mkdir()
    (tmp_path / "expectations" / "raw_reuse.json").write_text(json.dumps(SUITE), encoding="utf-8")
    monkeypatch.setattr(config, "EXPECTATIONS_DIR", tmp_path)
    bootstrap(fresh_dsn)
    with psycopg.connect(fresh_dsn) as conn:
        conn.execute("create table raw.reuse_codes (code text)")
        conn.execute("insert into raw.reuse_codes values ('a'), ('b')")
        conn.execute("create table raw.reuse_scores (code text, score integer, weight numeric)")
        conn.execute("insert into raw.reuse_scores values ('a', 3, 0.5), ('b', 10, 1)")
    runs = iter(range(1, 100))

    def run(expect_failure: bool = False):
        run_id = f"r{next(runs)}"
        if expect_failure:
            with pytest.raises(gates.GateFailed):
                gates.run_gate("raw_", fresh_dsn, run_id)
            report = None
        else:
            report = gates.run_gate("raw_", fresh_dsn, run_id)
        with psycopg.connect(fresh_dsn) as conn:
            row = conn.execute("""select gate_run_id, passed, failed_critical, failed_warning, reused_from, fingerprint
                                  from meta.gate_run where run_id = %s""", (run_id,)).fetchone()
            results = conn.execute("select count(*) filter (where success), count(*) from meta.gate_result "
                                   "where run_id = %s", (run_id,)).fetchone()
        return row, report, results

    def execute(statement: str) -> None:
        with psycopg.connect(fresh_dsn, autocommit=True) as conn:
            conn.execute(statement)

    run.sql, run.dsn = execute, fresh_dsn
    return run


def test_the_same_rows_take_the_last_passing_result_and_record_it(gate):
    first, report, results = gate()
    assert first[1:5] == (3, 0, 0, None) and first[5]
    again, report, results_again = gate()
    # Recorded as its own run, every expectation passed, pointing at the run that validated them.
    assert again[1:5] == (3, 0, 0, first[0]) and again[5] == first[5]
    assert results_again == results == (3, 3)
    assert report.summary() == "3/3 expectations passed, 0 critical failed, 0 warnings"
    third, *_ = gate()
    assert third[4] == first[0]  # the run that validated, not the one that reused


@pytest.mark.parametrize("change", [
    "update raw.reuse_scores set score = 4 where code = 'a'",  # a value of the asset
    "insert into raw.reuse_scores values ('a', 3, 0.5)",  # a duplicate row: the count changes
    "delete from raw.reuse_scores where code = 'b'",
    "insert into raw.reuse_codes values ('c')",  # a table only the check's query reads
])
def test_any_change_to_what_the_suite_reads_is_validated(gate, change):
    first, *_ = gate()
    gate.sql(change)
    second, *_ = gate()
    assert second[4] is None and second[5] != first[5]


def test_a_changed_suite_is_validated(gate, tmp_path):
    first, *_ = gate()
    changed = {**SUITE, "expectations": SUITE["expectations"][:2]}
    (tmp_path / "expectations" / "raw_reuse.json").write_text(json.dumps(changed), encoding="utf-8")
    second, *_ = gate()
    assert second[1:5] == (2, 0, 0, None) and second[5] != first[5]


def test_a_failure_is_never_reused_and_rows_put_back_take_the_passing_result(gate):
    first, *_ = gate()
    gate.sql("update raw.reuse_scores set score = 11 where code = 'a'")
    failed, *_ = gate(expect_failure=True)
    assert failed[2] == 1 and failed[4] is None
    failed_again, *_ = gate(expect_failure=True)
    assert failed_again[2] == 1 and failed_again[4] is None  # validated again: it failed
    gate.sql("update raw.reuse_scores set score = 3 where code = 'a'")
    back, *_ = gate()
    assert back[4] == first[0]


def test_a_suite_that_warned_is_validated_again(gate):
    gate.sql("update raw.reuse_scores set weight = 2 where code = 'a'")
    warned, report, _ = gate()
    assert warned[3] == 1 and len(report.warnings) == 1
    again, report, _ = gate()
    assert again[3] == 1 and again[4] is None and len(report.warnings) == 1


def test_a_warehouse_bootstrapped_before_the_fingerprint_validates_every_time(gate):
    gate.sql("alter table meta.gate_run drop column fingerprint, drop column reused_from")
    for run_id in ("old-1", "old-2"):
        report = gates.run_gate("raw_", gate.dsn, run_id)
        assert report.summary() == "3/3 expectations passed, 0 critical failed, 0 warnings"
        assert not any("reused_from_gate_run" in o.observed for o in report.outcomes)


def test_every_suite_names_its_tables_with_their_schema():
    """The fingerprint reads the tables a suite's SQL names as schema.table: a table named without
    its schema would be read, but its changes not seen."""
    import re

    unqualified = []
    for path in gates.suite_files(""):
        spec = json.loads(path.read_text(encoding="utf-8"))
        texts = [spec["meta"]["asset"].get("query", "")]
        texts += [e["kwargs"]["unexpected_rows_query"] for e in spec["expectations"]
                  if "unexpected_rows_query" in e.get("kwargs", {})]
        for text in texts:
            ctes = set(re.findall(r"(\w+)\s+as\s*\(", text, re.IGNORECASE))
            for target in re.findall(r"(?<!distinct )\b(?:from|join)\s+([\w.{}\"]+)", text, re.IGNORECASE):
                if "." not in target and target != "{batch}" and target not in ctes:
                    unqualified.append(f"{spec['name']}: {target}")
    assert not unqualified, unqualified


def test_a_gate_that_validates_imports_neither_scipy_stats_nor_altair(fresh_dsn):
    """GX loads them for an expectation no suite uses (``gates.DEFERRED_IMPORTS``): a third of its import."""
    import subprocess
    import sys

    code = ("import sys; from sinfonia import gates; v = gates._validator(sys.argv[1]); "
            "print(sorted(m for m in ('scipy.stats._stats_py', 'altair.vegalite') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, fresh_dsn], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-1] == "[]"
