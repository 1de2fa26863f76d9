"""Retries: transient failures are retried with backoff; bad input fails at once, in a real
Airflow and in the in-process runner alike."""

from datetime import timedelta

import psycopg
import pytest
from airflow.sdk.definitions.retry_policy import RetryAction

from sinfonia import gates
from sinfonia.airflow_common import DEFAULT_ARGS, IN_PROCESS_RETRY, FailFastOnBadInput
from sinfonia.ingest import pii
from sinfonia.ingest.tables import SourceFormatError

POLICY = FailFastOnBadInput()


@pytest.mark.parametrize("error", [
    SourceFormatError("ResultadosIDF_2023.xlsx: no sheet named 'Municipios 2023'"),
    gates.GateFailed("raw_idf: every IDF code exists in DIVIPOLA (observed 1)"),
    pii.MissingKeyError("SINFONIA_PII_KEY is not set"),
    ValueError("as_of_date '2024-13-01' is not a date"),
    FileNotFoundError("sources folder /nowhere does not exist"),
    psycopg.errors.CheckViolation("load_run_reconciles"),
], ids=lambda e: type(e).__name__)
def test_bad_input_fails_at_once_whatever_retries_are_left(error):
    decision = POLICY.evaluate(error, try_number=1, max_tries=3)
    assert decision.action is RetryAction.FAIL and type(error).__name__ in decision.reason


@pytest.mark.parametrize("error", [
    psycopg.OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused"),
    RuntimeError("dbt invocation completed with errors: connection timed out"),
    TimeoutError("timed out"),
], ids=lambda e: type(e).__name__)
def test_transient_failures_take_the_retries_with_backoff(error):
    assert POLICY.evaluate(error, try_number=1, max_tries=3).action is RetryAction.DEFAULT
    assert DEFAULT_ARGS["retries"] >= 2 and DEFAULT_ARGS["retry_exponential_backoff"] >= 2
    assert DEFAULT_ARGS["retry_delay"] <= DEFAULT_ARGS["max_retry_delay"] <= timedelta(minutes=10)


def test_the_in_process_runner_waits_seconds_not_minutes_between_tries():
    assert IN_PROCESS_RETRY["max_retry_delay"] <= timedelta(seconds=5) < DEFAULT_ARGS["retry_delay"]


def _cosmos_error(*nodes: tuple[str, str, str]) -> Exception:
    """The exception Cosmos' own handler raises for a dbt build whose nodes ended as given
    ((name, status, message)), from a result shaped as dbtRunner returns it."""
    from types import SimpleNamespace

    from cosmos.dbt.runner import handle_exception_if_needed

    results = [SimpleNamespace(status=status, message=message, node=SimpleNamespace(name=name))
               for name, status, message in nodes]
    result = SimpleNamespace(success=False, exception=None, result=SimpleNamespace(results=results))
    with pytest.raises(Exception) as caught:
        handle_exception_if_needed(result)
    return caught.value


def test_a_build_stopped_only_by_failed_data_tests_is_bad_data_and_fails_at_once():
    from sinfonia import dbt

    error = _cosmos_error(("not_null_mart_coverage_directorate_id", "fail",
                           "Got 3 results, configured to fail if != 0"),
                          ("mapped_without_loss_stg_mdm__scores_grupo", "fail",
                           "Got 1 result, configured to fail if != 0"))
    assert dbt.data_test_failures(str(error)) == ["not_null_mart_coverage_directorate_id",
                                                  "mapped_without_loss_stg_mdm__scores_grupo"]
    decision = POLICY.evaluate(dbt.DataTestsFailed(str(error)), try_number=1, max_tries=3)
    assert decision.action is RetryAction.FAIL


def test_a_build_with_any_error_beside_its_failed_tests_keeps_its_retries():
    from sinfonia import dbt

    error = _cosmos_error(("not_null_mart_coverage_directorate_id", "fail",
                           "Got 3 results, configured to fail if != 0"),
                          ("mart_coverage", "error", "Database Error: server closed the connection unexpectedly"))
    assert dbt.data_test_failures(str(error)) == []
    assert dbt.data_test_failures("dbt invocation did not complete with unhandled error: timeout") == []
    assert POLICY.evaluate(error, try_number=1, max_tries=3).action is RetryAction.DEFAULT


def test_a_row_that_breaks_a_models_contract_is_bad_data_and_fails_at_once():
    # The NOT NULL constraints of the enforced contracts are checked when a mart is built: PostgreSQL's
    # message, as a build of a mart_team_inclusion with a null is_suppressed reported it.
    from sinfonia import dbt

    error = _cosmos_error(("mart_team_inclusion", "error",
                           "Database Error in model mart_team_inclusion (models/marts/monitoring/mart_team_inclusion.sql)\n"
                           '  null value in column "is_suppressed" of relation "mart_team_inclusion__dbt_tmp" violates '
                           "not-null constraint\n  DETAIL:  Failing row contains (2023, national, CO, 0.1861, null).\n"
                           "  compiled code at target/run/sinfonia/models/marts/monitoring/mart_team_inclusion.sql"))
    assert dbt.constraint_violations(str(error)) == [
        'null value in column "is_suppressed" of relation "mart_team_inclusion__dbt_tmp" violates not-null constraint']
    assert dbt.constraint_violations("Database Error: server closed the connection unexpectedly") == []


def test_the_dbt_task_fails_a_broken_contract_at_once(monkeypatch):
    from sinfonia import dbt, prioritisation, warehouse
    from sinfonia.airflow_common import DbtBuild

    error = _cosmos_error(("dim_team", "error", 'Database Error in model dim_team (models/marts/monitoring/dim_team.sql)\n'
                           '  null value in column "year" of relation "dim_team__dbt_tmp" violates not-null constraint'))

    class Build:  # the build as dbt ran it: the contract broken by one row
        def execute(self, context):
            raise error

    monkeypatch.setattr(warehouse, "dsn", lambda: "postgresql://sinfonia@127.0.0.1:1/nowhere")
    monkeypatch.setattr(prioritisation, "check_seed_files", lambda dsn: None)
    monkeypatch.setattr(prioritisation, "seed_problems", lambda dsn: [])
    monkeypatch.setattr(dbt, "cosmos_build", lambda *args, **kwargs: Build())
    with pytest.raises(dbt.DataTestsFailed, match=r'contract \(null value in column "year" of relation "dim_team__dbt_tmp"'):
        DbtBuild(task_id="dbt_build").execute({})
