"""The weekly message to each territorial directorate (Spanish), sent by the monitoring DAG.

Each directorate (record label) hears where it stands: its place in the leaderboard
(``marts.mart_directorate_playlist``) and the change since the previous week's message, its goal
completion, and its open-work list (``marts.mart_open_work``, latest export week: the top items
and the counts per rule). Everything is read from the published marts after ``publish``.

- **Sending** goes through Airflow's own notifier for e-mail, the SMTP provider's
  ``SmtpNotifier``, on the Airflow connection ``sinfonia_smtp`` (``AIRFLOW_CONN_SINFONIA_SMTP``;
  another id with ``SINFONIA_SMTP_CONN_ID``): host, port, login and password, and the extras
  ``from_email``, ``disable_ssl``, ``disable_tls``, ``timeout``, ``retry_limit``. Without that
  connection nothing is sent and the task is skipped, saying so.
- **Recipients** come from the dbt seed ``directorate_recipients`` (``seeds`` schema), never code.
- **Recipients are checked** as plain e-mail addresses (one each, nothing that could add a
  recipient or a header); a directorate with a bad one gets no message, recorded ``failed`` naming it.
- **Once per directorate and export week, at most**: ``meta.notification_sent`` keeps one row per
  week and directorate with the figures sent. Each message is claimed (``sending``, committed)
  before it is handed to the mail server, so two runs never send the same one; it then becomes
  ``sent`` (never sent again: a re-run of the week sends nothing new) or ``failed`` (with its
  error, claimed again by the next run). A process killed between the mail server's acceptance
  and the record leaves it ``sending``: not sent again (an operator sets it to ``failed`` to
  re-send); every message carries a stable ``Message-ID`` per directorate and week.
  The week is the ISO week of the latest ESAP export (the open-work mart's "today"):
  a Monday without a new export has nothing new to send.
- **Failures** do not touch the data: the marts are published before this runs. Every
  directorate is tried; when any send failed the task fails afterwards, naming them.

The notifier is called from a task rather than as a DAG callback: a callback's failure is only
logged by Airflow, while a failed task shows in the run, is recorded by ``on_failure_callback``,
and clearing it retries exactly the messages not yet sent.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from html import escape

log = logging.getLogger(__name__)

CONN_ID_ENV = "SINFONIA_SMTP_CONN_ID"
DEFAULT_CONN_ID = "sinfonia_smtp"
TOP_ITEMS = 10  # open-work rows listed in each message (the counts cover them all)

FLAGS = {
    "overdue": "vencidas",
    "due_soon_without_action_plan": "por vencer sin plan de acción",
    "delivered_without_satisfaction": "entregadas sin calificación de satisfacción",
}


def conn_id() -> str:
    return os.environ.get(CONN_ID_ENV) or DEFAULT_CONN_ID


@dataclass
class Digest:
    """The figures of one directorate's message for one export week."""

    directorate_id: str
    label_name: str
    directorate_name: str
    export_week: date
    as_of_date: date
    goal_year: int | None
    rank: int | None
    directorates: int
    points: float | None
    goal: int | None
    delivered: int
    goal_completion: float | None
    previous_rank: int | None
    previous_week: date | None
    open_items: int
    flagged: dict[str, int]
    items: list[dict]
    recipients: list[str] = field(default_factory=list)
    sample: bool = False

    @property
    def flagged_items(self) -> int:
        return sum(self.flagged.values())

    @property
    def subject(self) -> str:
        prefix = "[MUESTRA] " if self.sample else ""
        place = f"puesto {self.rank} de {self.directorates}" if self.rank else "sin puesto"
        return (f"{prefix}Sinfonía · {self.label_name}: {place} · "
                f"semana del {_date(self.export_week)}")

    def change(self) -> str:
        """The change since the previous week's message, in words."""
        if self.rank is None:
            return "Sin datos en la tabla de posiciones."
        if self.previous_rank is None:
            return "Primera semana registrada de la vigencia: sin comparación con la semana anterior."
        since = f"desde la semana del {_date(self.previous_week)}"
        moved = self.previous_rank - self.rank
        if moved > 0:
            return f"Sube {moved} {'puesto' if moved == 1 else 'puestos'} {since}."
        if moved < 0:
            return f"Baja {-moved} {'puesto' if moved == -1 else 'puestos'} {since}."
        return f"Mantiene su puesto {since}."

    def html(self) -> str:
        from sinfonia.report.spanish import place_name  # names cased as the report cases them

        banner = ('<p style="background:#b00020;color:#fff;padding:6px"><b>DATOS SINTÉTICOS DE MUESTRA</b>: '
                  "no son cifras oficiales.</p>") if self.sample else ""
        if self.goal:
            goal = (f"Meta de la vigencia: <b>{self.delivered}</b> de <b>{self.goal}</b> canciones entregadas "
                    f"(<b>{_pct(self.goal_completion)}</b> de la lista).")
        else:
            goal = f"Sin meta registrada para la vigencia; <b>{self.delivered}</b> canciones entregadas."
        place = (f"Puesto <b>{self.rank}</b> de {self.directorates} en la tabla de posiciones de la vigencia "
                 f"{self.goal_year} (<b>{_int(self.points)}</b> puntos). {escape(self.change())}"
                 if self.rank else escape(self.change()))
        counts = ", ".join(f"<b>{self.flagged.get(k, 0)}</b> {label}" for k, label in FLAGS.items())
        rows = "".join(
            "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in (
                i["assistance_id"], i["team_name"] or "—",
                place_name(i["municipality_name"]) or i["municipality_id"] or "—",
                i["thematic_line_name"] or "—", i["status"], _date(i["due_date"]), _days(i),
                i["flag_label"] or "—")) + "</tr>"
            for i in self.items)
        table = ("<table border=\"1\" cellpadding=\"4\" style=\"border-collapse:collapse\"><thead><tr>"
                 + "".join(f"<th>{h}</th>" for h in ("Asistencia", "Equipo", "Municipio", "Línea temática",
                                                     "Estado", "Entrega programada", "Días", "Alerta"))
                 + f"</tr></thead><tbody>{rows}</tbody></table>") if self.items else ""
        listed = self.open_items + self.flagged.get("delivered_without_satisfaction", 0)
        shown = f"<p>Las {len(self.items)} primeras por atender, de {listed}:</p>" if self.items else ""
        return (
            f"{banner}<h2>{escape(self.label_name)} · {escape(self.directorate_name)}</h2>"
            f"<p>Corte de la semana del {_date(self.export_week)} (exportación ESAP del "
            f"{_date(self.as_of_date)}).</p>"
            f"<h3>Tabla de posiciones</h3><p>{place}</p><p>{goal}</p>"
            f"<h3>Trabajo abierto</h3><p>Asistencias abiertas (ni entregadas ni canceladas): "
            f"<b>{self.open_items}</b>. Con alerta: {counts}.</p>{shown}{table}"
            "<p style=\"color:#555\">Mensaje automático de Sinfonía (ESAP, Estrategia de Asistencia Técnica "
            "Territorial). Las cifras son las publicadas en el almacén (marts.mart_directorate_playlist, "
            "marts.mart_open_work).</p>"
        )


def _date(value) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def _int(value) -> str:
    return "—" if value is None else f"{round(float(value)):,}".replace(",", ".")


def _pct(value) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f}".replace(".", ",") + " %"


def _days(item: dict) -> str:
    if item.get("days_overdue") is not None:
        return f"{item['days_overdue']} de retraso"
    if item.get("days_left") is not None:
        return f"faltan {item['days_left']}"
    if item.get("days_since_delivery") is not None:
        return f"{item['days_since_delivery']} desde la entrega"
    return "—"


def _rows(conn, query: str, params=()) -> list[dict]:
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def digests(conn) -> list[Digest]:
    """One digest per directorate for the latest export week (empty before any export)."""
    from sinfonia.report import is_sample_data

    as_of = conn.execute("select max(last_export_date) from marts.fct_technical_assistance").fetchone()[0]
    if as_of is None:
        return []
    week = as_of - timedelta(days=as_of.weekday())
    years = [r[0] for r in conn.execute("select distinct year from marts.mart_directorate_playlist")]
    year = as_of.year if as_of.year in years else max(years, default=None)
    board = {r["directorate_id"]: r for r in _rows(
        conn, "select * from marts.mart_directorate_playlist where year = %s", (year,))}
    previous = {r["directorate_id"]: r for r in _rows(conn, """
        select distinct on (directorate_id) directorate_id, export_week, rank
        from meta.notification_sent where export_week < %s and goal_year = %s
        order by directorate_id, export_week desc""", (week, year))}
    counts = {r["directorate_id"]: r for r in _rows(conn, """
        select directorate_id, count(*) filter (where is_open) as open_items,
            count(*) filter (where flag = 'overdue') as overdue,
            count(*) filter (where flag = 'due_soon_without_action_plan') as due_soon_without_action_plan,
            count(*) filter (where flag = 'delivered_without_satisfaction') as delivered_without_satisfaction
        from marts.mart_open_work where is_latest_week group by directorate_id""")}
    items: dict[str, list[dict]] = {}
    for r in _rows(conn, """select * from marts.mart_open_work where is_latest_week and attention_rank <= %s
                            order by directorate_id, attention_rank""", (TOP_ITEMS,)):
        items.setdefault(r["directorate_id"], []).append(r)
    recipients: dict[str, list[str]] = {}
    for directorate_id, email in conn.execute(
            "select directorate_id, trim(email) from seeds.directorate_recipients order by directorate_id, email"):
        recipients.setdefault(directorate_id, []).append(email)
    sample = is_sample_data(conn)
    out = []
    for d in _rows(conn, "select * from marts.dim_territorial_directorate order by directorate_id"):
        key = d["directorate_id"]
        b, c, p = board.get(key, {}), counts.get(key, {}), previous.get(key, {})
        out.append(Digest(
            directorate_id=key, label_name=d["label_name"], directorate_name=d["directorate_name"],
            export_week=week, as_of_date=as_of, goal_year=year, rank=b.get("rank"), directorates=len(board),
            points=b.get("points"), goal=b.get("goal"), delivered=b.get("delivered") or 0,
            goal_completion=b.get("goal_completion"), previous_rank=p.get("rank"),
            previous_week=p.get("export_week"), open_items=c.get("open_items") or 0,
            flagged={k: c.get(k) or 0 for k in FLAGS}, items=items.get(key, []),
            recipients=recipients.get(key, []), sample=sample,
        ))
    return out


# A stable Message-ID per directorate and export week: a message the mail server already accepted,
# if it were ever handed over again, carries the same identifier (mail clients and archives show it
# once). The right-hand side identifies Sinfonía's weekly messages, not a host.
MESSAGE_ID_DOMAIN = "semanal.sinfonia.esap"

# An e-mail address as the seed must give it: one local part and one domain with a dot, no spaces,
# no quotes, no angle brackets, commas or line breaks (nothing that could add a recipient or a header).
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")


def bad_recipients(addresses: list[str]) -> list[str]:
    """The entries of ``addresses`` that are not one plain e-mail address each."""
    return [a for a in addresses if not (isinstance(a, str) and len(a) <= 254 and _ADDRESS.fullmatch(a)
                                         and ".." not in a and not a.split("@")[0].startswith("."))]


def message_id(d: Digest) -> str:
    slug = re.sub(r"[^A-Za-z0-9-]", "-", d.directorate_id)
    return f"<{d.export_week:%Y%m%d}.{slug}@{MESSAGE_ID_DOMAIN}>"


def _claim(conn, d: Digest, run_id: str | None) -> bool:
    """Claim the directorate's message of the week before sending it (committed at once): True when
    this run may send it; False when it is sent already or another run claimed it."""
    row = conn.execute("""
        insert into meta.notification_sent (export_week, directorate_id, as_of_date, goal_year, rank, points,
            goal, delivered, open_items, flagged_items, recipients, subject, status, error, run_id, sent_at,
            message_id, claimed_at)
        values (%(week)s, %(id)s, %(as_of)s, %(year)s, %(rank)s, %(points)s, %(goal)s, %(delivered)s, %(open)s,
            %(flagged)s, %(to)s, %(subject)s, 'sending', null, %(run_id)s, null, %(message_id)s, now())
        on conflict (export_week, directorate_id) do update set
            as_of_date = excluded.as_of_date, goal_year = excluded.goal_year, rank = excluded.rank,
            points = excluded.points, goal = excluded.goal, delivered = excluded.delivered,
            open_items = excluded.open_items, flagged_items = excluded.flagged_items,
            recipients = excluded.recipients, subject = excluded.subject, status = 'sending', error = null,
            run_id = excluded.run_id, message_id = excluded.message_id, claimed_at = now(),
            attempts = meta.notification_sent.attempts + 1, updated_at = now()
        where meta.notification_sent.status = 'failed'
        returning 1""",
        {"week": d.export_week, "id": d.directorate_id, "as_of": d.as_of_date, "year": d.goal_year,
         "rank": d.rank, "points": d.points, "goal": d.goal, "delivered": d.delivered, "open": d.open_items,
         "flagged": d.flagged_items, "to": d.recipients, "subject": d.subject, "run_id": run_id,
         "message_id": message_id(d)}).fetchone()
    return row is not None


def _record(conn, d: Digest, run_id: str | None, error: str | None) -> None:
    """The outcome of a claimed message: ``sent`` once the mail server accepted it, else ``failed``
    with the error (the next run claims it again)."""
    conn.execute("""
        update meta.notification_sent set status = %(status)s, error = %(error)s,
               sent_at = case when %(status)s = 'sent' then now() end, updated_at = now()
         where export_week = %(week)s and directorate_id = %(id)s and status = 'sending'
           and run_id is not distinct from %(run_id)s""",
        {"week": d.export_week, "id": d.directorate_id, "status": "failed" if error else "sent",
         "error": error, "run_id": run_id})


def _refuse(conn, d: Digest, run_id: str | None, error: str) -> None:
    """Record a message that was never handed to the mail server (claimed, then failed)."""
    if _claim(conn, d, run_id):
        _record(conn, d, run_id, error)


class NotSent(RuntimeError):
    """Some directorates' messages could not be sent (each one recorded with its error)."""


def send_weekly(dsn: str, run_id: str | None, context: dict | None = None, notifier=None) -> dict:
    """Send the week's message to every directorate not yet notified this export week.

    Each message is claimed first (``meta.notification_sent``, status ``sending``, committed),
    then handed to the mail server with a stable ``Message-ID``, then recorded ``sent`` (or
    ``failed``, to be claimed again by the next run). A message claimed by a run that died before
    recording it stays ``sending`` ("in doubt"): never sent again automatically (at most once); the
    run says so and an operator who finds it was not delivered sets it to ``failed``.

    ``notifier(to=..., subject=..., html_content=..., custom_headers=...)`` returns an Airflow
    notifier; by default the SMTP provider's ``SmtpNotifier`` on ``conn_id()``. Returns counts;
    raises ``NotSent`` when any send failed (after trying all of them).
    """
    from sinfonia import db

    if notifier is None:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        def notifier(**kwargs):
            return SmtpNotifier(smtp_conn_id=conn_id(), **kwargs)

    summary = {"sent": 0, "already_sent": 0, "in_doubt": 0, "failed": 0, "without_recipients": 0}
    failures = []
    with db.connect(dsn, autocommit=True) as conn:
        batch = digests(conn)
        if not batch:
            log.warning("no assistances published yet: no weekly message to send")
            return summary
        for d in batch:
            if not d.recipients:
                log.warning("directorate %s has no recipients in seeds.directorate_recipients: no message",
                            d.directorate_id)
                summary["without_recipients"] += 1
                continue
            bad = bad_recipients(d.recipients)
            if bad:
                error = ("not an e-mail address in seeds.directorate_recipients (dbt_project/seeds/"
                         f"directorate_recipients.csv): {', '.join(repr(b) for b in bad)}")
                log.warning("weekly message to %s not sent: %s", d.directorate_id, error)
                _refuse(conn, d, run_id, error)
                failures.append(f"{d.directorate_id}: {error}")
                summary["failed"] += 1
                continue
            if not _claim(conn, d, run_id):
                status, claimed_by, claimed_at = conn.execute(
                    "select status, run_id, claimed_at from meta.notification_sent "
                    "where export_week = %s and directorate_id = %s", (d.export_week, d.directorate_id)).fetchone()
                if status == "sent":
                    summary["already_sent"] += 1
                else:
                    log.warning("weekly message to %s of the week of %s is in doubt: claimed by run %s at %s and "
                                "never recorded as sent (that run stopped or is still sending); not sent again. "
                                "If it did not arrive, set its status to 'failed' in meta.notification_sent and "
                                "re-run", d.directorate_id, d.export_week, claimed_by, claimed_at)
                    summary["in_doubt"] += 1
                continue
            try:
                # notify() directly: __call__ would render the message as a Jinja template.
                notifier(to=d.recipients, subject=d.subject, html_content=d.html(),
                         custom_headers={"Message-ID": message_id(d)}).notify(context or {})
            except Exception as exc:  # every directorate is tried; the failures are raised below
                error = f"{type(exc).__name__}: {exc}"
                log.warning("weekly message to %s (%s) not sent: %s", d.directorate_id, ", ".join(d.recipients),
                            error)
                _record(conn, d, run_id, error)
                failures.append(f"{d.directorate_id}: {error}")
                summary["failed"] += 1
            else:
                _record(conn, d, run_id, None)
                log.info("weekly message sent to %s (%s): %s", d.directorate_id, ", ".join(d.recipients), d.subject)
                summary["sent"] += 1
    log.info("weekly messages for the week of %s: %s", batch[0].export_week, summary)
    if failures:
        raise NotSent(f"{len(failures)} of {len(batch)} weekly messages not sent (recorded in "
                      f"meta.notification_sent; a re-run sends only these): " + "; ".join(failures))
    return summary


def run_task(context: dict) -> dict:
    """The DAG task: skipped, saying why, when no SMTP connection is configured."""
    from airflow.sdk.exceptions import AirflowSkipException

    from sinfonia.warehouse import dsn as warehouse_dsn

    if not _connection_exists(conn_id()):
        raise AirflowSkipException(
            f"no Airflow connection {conn_id()!r} (set AIRFLOW_CONN_{conn_id().upper()}): weekly messages not sent")
    return send_weekly(warehouse_dsn(), context.get("run_id"), context)


def _connection_exists(name: str) -> bool:
    from airflow.sdk import BaseHook

    try:
        BaseHook.get_connection(name)
    except Exception:  # AirflowNotFoundException, whichever module raises it
        return False
    return True
