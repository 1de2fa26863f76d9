"""Retries: transient failures are retried with backoff; bad input fails at once, in a real
Airflow and in the in-process runner alike."""

from datetime import timedelta

import psycopg
import pytest
from airflow.sdk.definitions.retry_policy import RetryAction

from sinfonia import gates, pii
from sinfonia.airflow_common import DEFAULT_ARGS, IN_PROCESS_RETRY, FailFastOnBadInput
from sinfonia.sources._tables import SourceFormatError

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
