"""Publication's rules without a server: how long it retries a swap readers hold back (the backoff
doubles from 0.25 s up to 5 s, the last attempt at the end of the wait, the wait from
``SINFONIA_PUBLISH_WAIT`` or 60 s) and what it says when it gives up.

tests/integration/test_publish.py checks the same against real readers; this pins each number.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

import psycopg
import pytest

from sinfonia import publish


class Clock:
    def __init__(self, readings):
        self.readings = list(readings)
        self.sleeps: list[float] = []

    def monotonic(self):
        return self.readings.pop(0)

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 6))


@pytest.fixture
def fake(monkeypatch):
    """publish() with its warehouse steps replaced: ``fails`` swaps refused before one succeeds."""
    state = {"fails": 0, "swaps": 0, "holders_of": None}

    @contextmanager
    def connect(dsn, autocommit=False):
        yield "conn"

    def swap(conn, counts, run_id):
        state["swaps"] += 1
        if state["swaps"] <= state["fails"]:
            raise psycopg.errors.LockNotAvailable("held")

    def lock_holders(conn, tables):
        state["holders_of"] = tables
        return [(42, "mart_a", "ana", "psql", 7.0)]

    monkeypatch.setattr(publish.db, "connect", connect)
    monkeypatch.setattr(publish, "built_tables", lambda conn: ["mart_a", "mart_b"])
    monkeypatch.setattr(publish, "stage", lambda conn, tables: {t: 1 for t in tables})
    monkeypatch.setattr(publish, "swap", swap)
    monkeypatch.setattr(publish, "lock_holders", lock_holders)
    monkeypatch.delenv(publish.WAIT_ENV, raising=False)
    return state


def _clock(monkeypatch, readings):
    clock = Clock(readings)
    monkeypatch.setattr(publish.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(publish.time, "sleep", clock.sleep)
    return clock


def test_the_backoff_doubles_from_a_quarter_second_to_five_and_the_last_try_ends_the_wait(fake, monkeypatch):
    fake["fails"] = 7
    clock = _clock(monkeypatch, [100, 100, 101, 102, 103, 104, 105, 117])
    assert publish.publish("dsn", "r", wait=20) == {"mart_a": 1, "mart_b": 1}
    assert clock.sleeps == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 3.0]
    assert fake["swaps"] == 8


def test_a_swap_refused_exactly_when_the_wait_ends_gives_up_naming_the_holders(fake, monkeypatch):
    fake["fails"] = 99
    clock = _clock(monkeypatch, [10, 10, 19.75, 30, 30])
    with pytest.raises(publish.MartsBusy) as raised:
        publish.publish("dsn", "r", wait=20)
    assert clock.sleeps == [0.25, 0.5]  # refused at 9.75 s: tried again; at 20 s: no more
    assert fake["swaps"] == 3
    assert fake["holders_of"] == ["mart_a", "mart_b"]
    assert str(raised.value).startswith("marts are busy: 1 session holds locks on marts.mart_a (pid 42 (ana, psql, "
                                        "in a transaction for 7 s) on marts.mart_a); publication waited 20 s")


@pytest.mark.parametrize("waited, gives_up", [(59.99, False), (60, True)])
def test_the_wait_is_60_seconds_unless_configured(fake, monkeypatch, waited, gives_up):
    fake["fails"] = 1
    _clock(monkeypatch, [0, waited, 0])
    if gives_up:
        with pytest.raises(publish.MartsBusy):
            publish.publish("dsn")
    else:
        publish.publish("dsn")
        assert fake["swaps"] == 2


def test_the_wait_comes_from_the_environment(fake, monkeypatch):
    fake["fails"] = 1
    monkeypatch.setenv(publish.WAIT_ENV, "2")
    _clock(monkeypatch, [0, 2])
    with pytest.raises(publish.MartsBusy, match="publication waited 2 s and gave up"):
        publish.publish("dsn")
    assert fake["swaps"] == 1


def test_nothing_built_is_nothing_to_publish(fake, monkeypatch):
    monkeypatch.setattr(publish, "built_tables", lambda conn: [])
    with pytest.raises(RuntimeError, match=r"^nothing to publish: schema marts_build has no tables \(run dbt first\)$"):
        publish.publish("dsn")
    assert fake["swaps"] == 0


def test_the_busy_message_names_each_session_once_and_each_table():
    holders = [(7, "mart_b", None, "", None), (5, "mart_a", "bo", None, 3.4), (5, "mart_b", "bo", None, 3.4)]
    assert publish._busy_message(holders, 59.6) == (
        "marts are busy: 2 sessions hold locks on marts.mart_a, marts.mart_b (pid 7 (unknown user) on marts.mart_b; "
        "pid 5 (bo, in a transaction for 3 s) on marts.mart_a; pid 5 (bo, in a transaction for 3 s) on marts.mart_b); "
        "publication waited 60 s and gave up: nothing was published, the marts are as they were. "
        "Retry when those reads end (or raise SINFONIA_PUBLISH_WAIT).")


def test_the_busy_message_without_holders_still_says_what_happened():
    assert publish._busy_message([], 1.2) == (
        "marts are busy: 0 sessions hold locks on the marts (); publication waited 1 s and gave up: nothing was "
        "published, the marts are as they were. Retry when those reads end (or raise SINFONIA_PUBLISH_WAIT).")


def test_one_session_holding_two_tables_is_one_session():
    holders = [(9, "mart_a", "ana", "bi", 1.0), (9, "mart_b", "ana", "bi", 1.0)]
    assert publish._busy_message(holders, 5).startswith(
        "marts are busy: 1 session holds locks on marts.mart_a, marts.mart_b (pid 9 (ana, bi, in a transaction for "
        "1 s) on marts.mart_a; pid 9 (ana, bi, in a transaction for 1 s) on marts.mart_b); publication waited 5 s")


def test_each_retry_is_logged_with_its_pause(fake, monkeypatch, caplog):
    fake["fails"] = 2
    _clock(monkeypatch, [100, 100, 101])
    with caplog.at_level(logging.INFO, logger=publish.log.name):
        publish.publish("dsn", "r", wait=20)
    assert [r.getMessage() for r in caplog.records if r.name == publish.log.name] == [
        "marts busy (readers hold them): publication retries in 0.25 s",
        "marts busy (readers hold them): publication retries in 0.50 s"]
