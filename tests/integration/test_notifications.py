"""The weekly messages to the directorates, sent by the real monitoring DAG to a real SMTP server
(aiosmtpd on loopback, started here), checked against the published marts.

A copy of the small sample's full refresh (``sample_run``: no weekly run has sent anything yet) and
four weekly runs (extract → monitoring DAG) on it: week 1 sends one message per directorate; the same week again sends none; week 2 (a new export a week later, in
which one directorate delivers its open work) with one directorate's mailbox refusing mail
publishes the marts, fails the notify task only and records the error, and the messages tell the
change of place; the same week again sends exactly the message that failed.
"""

from __future__ import annotations

import csv
import email
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from datetime import timedelta
from email.header import decode_header, make_header
from html import unescape

import psycopg
import pytest

from tests.conftest import sample_run

pytestmark = pytest.mark.integration

REFUSED_DIRECTORATE = "CAL"
REFUSED = "direccion.cal@example.org"


class Mailbox:
    """An SMTP server on loopback that keeps what it receives and refuses the addresses in ``refuse``."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[dict] = []
        self.refuse: set[str] = set()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content)
        html = next(p.get_payload(decode=True).decode() for p in msg.walk() if p.get_content_type() == "text/html")
        self.messages.append({"to": sorted(envelope.rcpt_tos), "from": envelope.mail_from,
                              "subject": str(make_header(decode_header(msg["Subject"]))), "html": html})
        return "250 OK"

    def take(self) -> list[dict]:
        got, self.messages = self.messages, []
        return got

    def connection(self) -> str:
        return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.port,
                           "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "sinfonia@example.org",
                                     "retry_limit": 0, "timeout": 10}})


def _weekly_run(dsn, sources, smtp: str):
    code = ("import sys; from sinfonia import pipeline; pipeline.prepare_environment(); "
            "pipeline.run_dags(pipeline.WEEKLY, {'sources_dir': sys.argv[1]})")
    env = {**os.environ, "AIRFLOW_CONN_SINFONIA_SMTP": smtp, "WAREHOUSE_DSN": dsn}
    return subprocess.run([sys.executable, "-c", code, str(sources)], capture_output=True, text=True,
                          timeout=1200, env=env)


def _ok(proc) -> None:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _rows(conn, query, params=()):
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _snapshot(conn) -> dict:
    """What the messages must say, per directorate, recounted from the published marts."""
    as_of = conn.execute("select max(last_export_date) from marts.fct_technical_assistance").fetchone()[0]
    board = {r["directorate_id"]: r for r in _rows(conn, """
        select p.*, d.label_name from marts.mart_directorate_playlist p
        join marts.dim_territorial_directorate d using (directorate_id) where p.year = %s""", (as_of.year,))}
    work = _rows(conn, "select * from marts.mart_open_work where is_latest_week")
    for key, b in board.items():
        mine = [w for w in work if w["directorate_id"] == key]
        b["open"] = sum(w["is_open"] for w in mine)
        b["overdue"] = sum(w["flag"] == "overdue" for w in mine)
        b["unscored"] = sum(w["flag"] == "delivered_without_satisfaction" for w in mine)
        b["top"] = [w["assistance_id"] for w in sorted(mine, key=lambda w: w["attention_rank"])[:10]]
    return {"as_of": as_of, "board": board, "work": work}


def _text(html: str) -> str:
    inline = re.sub(r"</?b>", "", html)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", inline)))


@pytest.fixture(scope="module")
def mailbox():
    box = Mailbox()
    box.controller.start()
    yield box
    box.controller.stop()


def _next_export(folder, dsn) -> str:
    """Week 2: a copy of the latest export a week later in which the directorate with the most
    open assistances of the year in the bottom half of the leaderboard delivers them all (quality
    and satisfaction 5), so that it climbs. Returns that directorate."""
    with psycopg.connect(dsn) as conn:
        boosted, name = conn.execute("""
            select p.directorate_id, d.directorate_name from marts.mart_directorate_playlist p
            join marts.dim_territorial_directorate d using (directorate_id)
            where p.year = 2025 and p.rank > 8 and p.directorate_id <> %s
            order by p.in_progress desc, p.directorate_id limit 1""", (REFUSED_DIRECTORATE,)).fetchone()
    latest = sorted((folder / "esap").glob("asistencias_*.csv"))[-1]
    with open(latest, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=";")
        header, rows = reader.fieldnames, list(reader)
    changed = 0
    for r in rows:
        if r["Dirección Territorial"] == name and r["Vigencia"] == "2025" and r["Estado"] == "En implementación":
            r.update({"Estado": "Entregada", "Fecha Entrega Real": "25/11/2025", "Producto Entregado": "Producto",
                      "Calificación Calidad": "5", "Satisfacción Alcaldía": "5"})
            changed += 1
    assert changed > 0
    with open(folder / "esap" / "asistencias_20251127.csv", "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    return boosted


@pytest.fixture(scope="module")
def weeks(server_dsn, small_sample, state_dir, tmp_path_factory, mailbox):
    with sample_run(server_dsn, small_sample, "ntf") as (dsn, _proc):
        yield _four_weeks(dsn, small_sample, tmp_path_factory.mktemp("notify"), mailbox)


def _four_weeks(dsn, small_sample, folder, mailbox) -> dict:
    shutil.copytree(small_sample, folder, dirs_exist_ok=True)
    result = {"dsn": dsn}

    _ok(_weekly_run(dsn, folder, mailbox.connection()))
    result["week1"] = mailbox.take()
    with psycopg.connect(dsn) as conn:
        result["marts1"] = _snapshot(conn)
    _ok(_weekly_run(dsn, folder, mailbox.connection()))
    result["week1_again"] = mailbox.take()

    result["boosted"] = _next_export(folder, dsn)
    mailbox.refuse = {REFUSED}
    result["week2_proc"] = _weekly_run(dsn, folder, mailbox.connection())
    result["week2"] = mailbox.take()
    with psycopg.connect(dsn) as conn:
        result["marts2"] = _snapshot(conn)
        result["meta2"] = _rows(conn, "select * from meta.notification_sent order by export_week, directorate_id")
    mailbox.refuse = set()
    _ok(_weekly_run(dsn, folder, mailbox.connection()))
    result["week2_again"] = mailbox.take()
    with psycopg.connect(dsn) as conn:
        result["meta_final"] = _rows(conn, "select * from meta.notification_sent order by export_week, directorate_id")
    return result


def _recipients(dsn) -> dict[str, list[str]]:
    with psycopg.connect(dsn) as conn:
        out: dict[str, list[str]] = {}
        for key, mail in conn.execute("select directorate_id, email from seeds.directorate_recipients"):
            out.setdefault(key, []).append(mail)
    return {k: sorted(v) for k, v in out.items()}


def _by_directorate(messages, recipients) -> dict:
    owner = {tuple(v): k for k, v in recipients.items()}
    return {owner[tuple(m["to"])]: m for m in messages}


def _check_numbers(message: dict, b: dict, directorates: int) -> None:
    text = _text(message["html"])
    assert f"{b['label_name']}: puesto {b['rank']} de {directorates}" in message["subject"]
    assert f"Puesto {b['rank']} de {directorates} en la tabla de posiciones de la vigencia {b['year']}" in text
    assert f"({round(float(b['points'])):,} puntos)".replace(",", ".") in text
    if b["goal"]:
        pct = f"{float(b['goal_completion']) * 100:.1f}".replace(".", ",")
        assert f"Meta de la vigencia: {b['delivered']} de {b['goal']} canciones entregadas ({pct} %" in text
    assert f"Asistencias abiertas (ni entregadas ni canceladas): {b['open']}." in text
    assert f"Con alerta: {b['overdue']} vencidas" in text
    assert f"{b['unscored']} entregadas sin calificación de satisfacción" in text
    listed = re.findall(r"<tr><td>([^<]+)</td>", message["html"])
    assert listed == b["top"]


def test_a_weekly_run_sends_one_message_per_directorate_with_the_numbers_of_the_marts(weeks):
    recipients = _recipients(weeks["dsn"])
    assert len(recipients) == 16 and len(recipients["ANT"]) == 2  # ANT has two addresses in the seed
    assert all(a.endswith("@example.org") for v in recipients.values() for a in v)
    messages = weeks["week1"]
    assert len(messages) == 16
    assert sorted(m["to"] for m in messages) == sorted(recipients.values())
    assert all(m["from"] == "sinfonia@example.org" for m in messages)
    board = weeks["marts1"]["board"]
    assert len(board) == 16
    for key, message in _by_directorate(messages, recipients).items():
        _check_numbers(message, board[key], 16)
        assert "Primera semana registrada" in _text(message["html"])
        assert message["subject"].startswith("[MUESTRA] ") and "DATOS SINTÉTICOS" in message["html"]
    # Open work exists and the messages list it: the sample has overdue and unscored deliveries.
    assert sum(b["overdue"] + b["unscored"] for b in board.values()) > 0


def test_a_second_run_of_the_same_week_sends_nothing(weeks):
    assert weeks["week1_again"] == []


def test_a_refused_message_fails_only_the_notify_task_and_the_marts_still_publish(weeks):
    proc = weeks["week2_proc"]
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "task notify_directorates" in out and "1 of 16 weekly messages not sent" in out
    assert f"{REFUSED_DIRECTORATE}: SMTPRecipientsRefused" in out
    # The new export was published before the notification failed.
    assert weeks["marts2"]["as_of"] > weeks["marts1"]["as_of"]
    assert len(weeks["week2"]) == 15 and all(REFUSED not in m["to"] for m in weeks["week2"])
    week2 = [r for r in weeks["meta2"] if r["as_of_date"] == weeks["marts2"]["as_of"]]
    failed = [r for r in week2 if r["status"] == "failed"]
    assert [r["directorate_id"] for r in failed] == [REFUSED_DIRECTORATE] and "550" in failed[0]["error"]
    assert sum(r["status"] == "sent" for r in week2) == 15


def test_week_two_reports_the_change_of_place_since_week_one(weeks):
    recipients = _recipients(weeks["dsn"])
    board1, board2 = weeks["marts1"]["board"], weeks["marts2"]["board"]
    boosted = weeks["boosted"]
    assert board2[boosted]["rank"] < board1[boosted]["rank"]  # the directorate that delivered climbed
    messages = _by_directorate(weeks["week2"] + weeks["week2_again"], recipients)
    assert set(messages) == set(board2)
    week1 = weeks["marts1"]["as_of"]
    since = f"desde la semana del {(week1 - timedelta(days=week1.weekday())).strftime('%d/%m/%Y')}"
    for key, message in messages.items():
        _check_numbers(message, board2[key], 16)
        moved = board1[key]["rank"] - board2[key]["rank"]
        expected = ("Mantiene su puesto" if moved == 0 else
                    f"Sube {moved} puesto" if moved > 0 else f"Baja {-moved} puesto")
        assert f"{expected}" in _text(message["html"]) and since in _text(message["html"]), key


def test_the_next_run_of_the_week_sends_only_the_message_that_failed(weeks):
    again = weeks["week2_again"]
    assert [m["to"] for m in again] == [[REFUSED]]
    _check_numbers(again[0], weeks["marts2"]["board"][REFUSED_DIRECTORATE], 16)
    final = {(r["export_week"], r["directorate_id"]): r for r in weeks["meta_final"]}
    assert len(final) == 32 and all(r["status"] == "sent" and r["sent_at"] for r in final.values())
    refused = [r for r in final.values() if r["directorate_id"] == REFUSED_DIRECTORATE]
    assert sorted(r["attempts"] for r in refused) == [1, 2]


def test_report_section_lists_the_open_work_per_directorate_as_in_the_mart(weeks):
    from sinfonia.report.monitoring import open_work_section, section

    with psycopg.connect(weeks["dsn"]) as conn:
        html = open_work_section(conn)
        assert html in section(conn)
        labels = dict(conn.execute("select directorate_id, label_name from marts.dim_territorial_directorate"))
        weeks_published = conn.execute("select count(distinct export_week) from marts.mart_open_work").fetchone()[0]
    as_of = weeks["marts2"]["as_of"].strftime("%d/%m/%Y")
    assert f"Trabajo abierto por disquera, corte del {as_of}" in html
    table = html.split('<table class="open-work">', 1)[1].split("</table>", 1)[0]
    cells = {r[0]: r[2:] for r in (re.findall(r"<td>([^<]*)</td>", row) for row in table.split("<tr>")[2:])}
    for key, b in weeks["marts2"]["board"].items():
        mine = [w for w in weeks["marts2"]["work"] if w["directorate_id"] == key]
        if mine:
            due_soon = sum(w["flag"] == "due_soon_without_action_plan" for w in mine)
            assert cells[labels[key]] == [str(b["open"]), str(b["overdue"]), str(due_soon), str(b["unscored"])], key
    trend = html.split('<table class="open-work-trend">', 1)[1]
    assert trend.count("<tr><td>") == min(weeks_published, 8) >= 2
