"""The weekly message's once-per-week rule and its retry, with a fake notifier (seconds).

The four-run SMTP module (test_notifications.py) sees the same through a real SMTP server and
whole pipeline runs, in minutes. Here the marts the message reads are a few hand-made rows in an
empty warehouse, and the notifier is a fake that refuses the addresses it is told to: a refused
message is recorded as failed with its error and fails the task after every directorate was tried;
the next run of the week sends only that one, and a run after that sends nothing.
"""

from __future__ import annotations

import smtplib
from datetime import date

import psycopg
import pytest

from sinfonia import notify
from sinfonia.bootstrap import bootstrap

pytestmark = pytest.mark.integration


class FakeMail:
    """Records each message; raises SMTP's refusal for the addresses in ``refuse``."""

    def __init__(self, refuse=()):
        self.refuse = set(refuse)
        self.sent: list[tuple[tuple[str, ...], str]] = []

    def __call__(self, to, subject, html_content, custom_headers=None):
        mail = self

        class _Notifier:
            def notify(self, context):
                refused = mail.refuse.intersection(to)
                if refused:
                    raise smtplib.SMTPRecipientsRefused({a: (550, b"mailbox unavailable") for a in refused})
                mail.sent.append((tuple(to), subject))

        return _Notifier()


def _marts(dsn: str, as_of: date) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("""
            create schema if not exists marts;
            create table marts.fct_technical_assistance (last_export_date date);
            create table marts.mart_directorate_playlist (year integer, directorate_id text, rank integer,
                points numeric, goal integer, delivered integer, goal_completion numeric);
            create table marts.mart_open_work (directorate_id text, is_open boolean, flag text,
                is_latest_week boolean, attention_rank integer);
            create table marts.dim_territorial_directorate (directorate_id text, label_name text,
                directorate_name text);
            create schema if not exists seeds;
            create table seeds.directorate_recipients (directorate_id text, email text);
            insert into marts.dim_territorial_directorate values
                ('AAA', 'Sello A', 'Dirección A'), ('BBB', 'Sello B', 'Dirección B'), ('CCC', 'Sello C', 'Dirección C');
            insert into seeds.directorate_recipients values ('AAA', 'a@example.org'), ('BBB', 'b@example.org');
        """)
        conn.execute("insert into marts.fct_technical_assistance values (%s)", (as_of,))
        conn.execute("insert into marts.mart_directorate_playlist values "
                     "(%(y)s, 'AAA', 1, 80, 10, 8, 0.8), (%(y)s, 'BBB', 2, 60, 10, 6, 0.6), "
                     "(%(y)s, 'CCC', 3, 10, 10, 1, 0.1)", {"y": as_of.year})


@pytest.fixture
def warehouse(server_dsn):
    from tests.conftest import throwaway_database

    with throwaway_database(server_dsn, "mail") as dsn:
        bootstrap(dsn)
        _marts(dsn, date(2024, 3, 6))  # a Wednesday: the export week starts on Monday 4 March
        yield dsn


def _sent_rows(dsn: str) -> dict[str, dict]:
    with psycopg.connect(dsn) as conn:
        cur = conn.execute("select directorate_id, export_week, status, error, attempts, sent_at "
                           "from meta.notification_sent")
        names = [d.name for d in cur.description]
        return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def test_a_refused_mailbox_is_recorded_failed_and_the_next_run_sends_only_it(warehouse):
    first = FakeMail(refuse={"b@example.org"})
    with pytest.raises(notify.NotSent, match=r"1 of 3 weekly messages not sent .* BBB: SMTPRecipientsRefused"):
        notify.send_weekly(warehouse, "run-1", notifier=first)
    assert [to for to, _ in first.sent] == [("a@example.org",)]  # AAA was still sent; CCC has nobody
    rows = _sent_rows(warehouse)
    assert rows.keys() == {"AAA", "BBB"}
    assert rows["AAA"]["status"] == "sent" and rows["AAA"]["sent_at"] is not None
    assert rows["BBB"]["status"] == "failed" and rows["BBB"]["sent_at"] is None
    assert "550" in rows["BBB"]["error"] and rows["BBB"]["export_week"] == date(2024, 3, 4)

    second = FakeMail()
    summary = notify.send_weekly(warehouse, "run-2", notifier=second)
    assert [to for to, _ in second.sent] == [("b@example.org",)]
    assert summary == {"sent": 1, "already_sent": 1, "in_doubt": 0, "failed": 0, "without_recipients": 1}
    rows = _sent_rows(warehouse)
    assert {k: (r["status"], r["attempts"], r["error"]) for k, r in rows.items()} == {
        "AAA": ("sent", 1, None), "BBB": ("sent", 2, None)}

    third = FakeMail()
    assert notify.send_weekly(warehouse, "run-3", notifier=third) == {
        "sent": 0, "already_sent": 2, "in_doubt": 0, "failed": 0, "without_recipients": 1}
    assert third.sent == []


def test_a_mailbox_refused_twice_counts_each_attempt_and_stays_failed(warehouse):
    for _ in range(2):
        with pytest.raises(notify.NotSent):
            notify.send_weekly(warehouse, "run", notifier=FakeMail(refuse={"b@example.org"}))
    assert _sent_rows(warehouse)["BBB"]["attempts"] == 2 and _sent_rows(warehouse)["BBB"]["status"] == "failed"
    assert _sent_rows(warehouse)["AAA"]["attempts"] == 1  # a sent message is never overwritten


def test_the_change_of_place_is_against_the_latest_earlier_week_not_this_one(warehouse):
    with psycopg.connect(warehouse, autocommit=True) as conn:
        for week, rank in ((date(2024, 2, 19), 3), (date(2024, 2, 26), 2), (date(2024, 3, 4), 3)):
            conn.execute("insert into meta.notification_sent (export_week, directorate_id, as_of_date, goal_year, "
                         "rank, recipients, subject, status) values (%s, 'AAA', %s, 2024, %s, '{}', 's', 'failed')",
                         (week, week, rank))
        conn.execute("insert into meta.notification_sent (export_week, directorate_id, as_of_date, goal_year, "
                     "rank, recipients, subject, status) values ('2024-02-26', 'BBB', '2024-02-26', 2023, 9, '{}', "
                     "'s', 'sent')")
        digests = {d.directorate_id: d for d in notify.digests(conn)}
    assert (digests["AAA"].previous_week, digests["AAA"].previous_rank) == (date(2024, 2, 26), 2)
    assert "Sube 1 puesto desde la semana del 26/02/2024" in digests["AAA"].change()
    assert digests["BBB"].previous_rank is None  # a rank of another goal year is no comparison
    assert digests["AAA"].export_week == date(2024, 3, 4) and digests["AAA"].directorates == 3
