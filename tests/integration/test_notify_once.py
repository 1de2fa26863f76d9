"""Weekly messages exactly once per directorate and export week, whatever runs beside them:
claimed before sending, a stable Message-ID, recipients checked, and a process killed (-9)
between the mail server's acceptance and the record never re-sends (the recipes of issue 34)."""

from __future__ import annotations

import email
import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import date

import psycopg
import pytest

from sinfonia import notify

pytestmark = pytest.mark.integration

WEEK = date(2025, 11, 17)


def _digest(key: str, recipients: list[str]) -> notify.Digest:
    return notify.Digest(
        directorate_id=key, label_name=f"Sello {key}", directorate_name=f"Dirección {key}", export_week=WEEK,
        as_of_date=WEEK, goal_year=2025, rank=1, directorates=3, points=10.0, goal=5, delivered=2,
        goal_completion=0.4, previous_rank=None, previous_week=None, open_items=1, flagged={}, items=[],
        recipients=recipients)


BATCH = [_digest("ANT", ["antioquia@example.org"]), _digest("BOY", ["boyaca@example.org"]),
         _digest("CAL", ["cali@example.org"])]


@pytest.fixture
def warehouse(fresh_dsn, monkeypatch):
    from sinfonia.bootstrap import bootstrap

    bootstrap(fresh_dsn)
    monkeypatch.setattr(notify, "digests", lambda conn: [*BATCH])
    return fresh_dsn


def _status(dsn) -> dict[str, tuple]:
    with psycopg.connect(dsn) as conn:
        return {r[0]: r[1:] for r in conn.execute(
            "select directorate_id, status, message_id, error from meta.notification_sent where export_week = %s",
            (WEEK,))}


class Recorder:
    """A notifier that records what it is handed (slowly, so that two runs overlap)."""

    def __init__(self, delay: float = 0.0):
        self.sent: list[dict] = []
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, **kwargs):
        recorder = self

        class _Notifier:
            def notify(self, context):
                time.sleep(recorder.delay)
                with recorder.lock:
                    recorder.sent.append(kwargs)
        return _Notifier()


def test_two_runs_at_once_send_each_directorate_once(warehouse):
    recorder = Recorder(delay=0.3)
    results = []
    runs = [threading.Thread(target=lambda i=i: results.append(
        notify.send_weekly(warehouse, f"run-{i}", notifier=recorder))) for i in range(2)]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    sent = sorted(m["to"][0] for m in recorder.sent)
    assert sent == ["antioquia@example.org", "boyaca@example.org", "cali@example.org"], sent
    assert sum(r["sent"] for r in results) == 3
    assert {k: v[0] for k, v in _status(warehouse).items()} == {"ANT": "sent", "BOY": "sent", "CAL": "sent"}
    ids = {m["to"][0]: m["custom_headers"]["Message-ID"] for m in recorder.sent}
    assert ids["boyaca@example.org"] == "<20251117.BOY@semanal.sinfonia.esap>"
    assert _status(warehouse)["BOY"][1] == "<20251117.BOY@semanal.sinfonia.esap>"
    again = notify.send_weekly(warehouse, "run-3", notifier=recorder)  # the same week again: nothing
    assert again["sent"] == 0 and again["already_sent"] == 3 and len(recorder.sent) == 3


KILLED = """
import os, signal, sys
from datetime import date
from sinfonia import notify
from tests.integration.test_notify_once import BATCH

notify.digests = lambda conn: [*BATCH]
accepted = open(sys.argv[2], "a")

def notifier(**kwargs):
    class N:
        def notify(self, context):
            accepted.write(kwargs["to"][0] + "\\n"); accepted.flush()  # the mail server accepted it
            if kwargs["to"][0] == "boyaca@example.org":
                os.kill(os.getpid(), signal.SIGKILL)  # ... and the process dies before the record
    return N()

notify.send_weekly(sys.argv[1], "killed-run", notifier=notifier)
"""


def test_a_run_killed_between_acceptance_and_record_does_not_resend(warehouse, tmp_path):
    accepted = tmp_path / "accepted.txt"
    proc = subprocess.run([sys.executable, "-c", KILLED, warehouse, str(accepted)], capture_output=True,
                          text=True, timeout=120, cwd=os.getcwd())
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert accepted.read_text().split() == ["antioquia@example.org", "boyaca@example.org"]
    assert _status(warehouse)["BOY"][0] == "sending"  # claimed, accepted, never recorded
    recorder = Recorder()
    summary = notify.send_weekly(warehouse, "next-run", notifier=recorder)
    assert [m["to"][0] for m in recorder.sent] == ["cali@example.org"]  # BOY is not sent twice
    assert summary == {"sent": 1, "already_sent": 1, "in_doubt": 1, "failed": 0, "without_recipients": 0}
    assert {k: v[0] for k, v in _status(warehouse).items()} == {"ANT": "sent", "BOY": "sending", "CAL": "sent"}


@pytest.mark.parametrize("bad", ["boyaca@example.org, intruso@example.net", "boyaca@example.org\r\nBcc: x@y.org",
                                 "Boyacá <boyaca@example.org>", "sin-arroba", "boyaca@localhost"])
def test_a_recipient_that_is_not_one_address_gets_no_message(fresh_dsn, monkeypatch, bad):
    from sinfonia.bootstrap import bootstrap

    bootstrap(fresh_dsn)
    monkeypatch.setattr(notify, "digests", lambda conn: [BATCH[0], _digest("BOY", [bad])])
    recorder = Recorder()
    with pytest.raises(notify.NotSent, match="directorate_recipients.csv") as raised:
        notify.send_weekly(fresh_dsn, "run", notifier=recorder)
    assert repr(bad) in str(raised.value)
    assert [m["to"] for m in recorder.sent] == [["antioquia@example.org"]]
    status, _, error = _status(fresh_dsn)["BOY"]
    assert status == "failed" and repr(bad) in error


def test_the_smtp_notifier_carries_the_stable_message_id(warehouse, monkeypatch):
    """Through Airflow's SmtpNotifier to a real SMTP server on loopback."""
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(email.message_from_bytes(envelope.content))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setenv("AIRFLOW_CONN_SINFONIA_SMTP", json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": port,
            "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "sinfonia@example.org",
                      "retry_limit": 0, "timeout": 10}}))
        summary = notify.send_weekly(warehouse, "smtp-run")
    finally:
        controller.stop()
    assert summary["sent"] == 3
    assert sorted(m["Message-ID"] for m in received) == [
        "<20251117.ANT@semanal.sinfonia.esap>", "<20251117.BOY@semanal.sinfonia.esap>",
        "<20251117.CAL@semanal.sinfonia.esap>"]
