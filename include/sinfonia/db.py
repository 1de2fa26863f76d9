"""Connections to the warehouse (a leaf of the package: the bootstrap is :mod:`sinfonia.bootstrap`).

Every pipeline session carries server-side limits (``session_options``), so that no session of
Sinfonía can wait forever or hold locks after its client died:

- ``lock_timeout``: a statement waiting longer than this for a lock fails;
- ``statement_timeout``: no statement runs longer than this;
- ``idle_in_transaction_session_timeout``: a session left idle inside a transaction (a client
  stopped between two statements) is ended by the server, which releases its locks;
- ``client_connection_check_interval`` and TCP keepalives: the server notices a client that went
  away (``kill -9``, a dead worker) even while the session is busy, and ends the session;
- ``jit`` off (``PLANNER``): compiling a query costs more than it saves on tables this small.

Each is configurable in seconds: ``SINFONIA_LOCK_TIMEOUT`` (default 60),
``SINFONIA_STATEMENT_TIMEOUT`` (3600), ``SINFONIA_IDLE_IN_TRANSACTION_TIMEOUT`` (600); 0 turns
one off.
"""

from __future__ import annotations

import logging
import os

import psycopg

from sinfonia import warehouse

log = logging.getLogger(__name__)

TIMEOUTS = {  # setting -> (environment variable, default seconds)
    "lock_timeout": ("SINFONIA_LOCK_TIMEOUT", 60),
    "statement_timeout": ("SINFONIA_STATEMENT_TIMEOUT", 3600),
    "idle_in_transaction_session_timeout": ("SINFONIA_IDLE_IN_TRANSACTION_TIMEOUT", 600),
}
# Server-side checks that the client is still there (seconds; PostgreSQL 14+).
LIVENESS = {"client_connection_check_interval": "10s", "tcp_keepalives_idle": "30",
            "tcp_keepalives_interval": "10", "tcp_keepalives_count": "3"}
# Planner settings of every pipeline session. No JIT compilation: the warehouse's tables are small
# (about 125,000 rows for the country) and the marts' queries are planned at costs above JIT's
# thresholds, so a server built with LLVM spent about 2 s compiling each of them to save
# milliseconds (mart_open_work: 2.0 s with JIT, 0.2 s without, on one server). The embedded
# server has no JIT; a server of the user's may.
PLANNER = {"jit": "off"}
# The same, on the client's side of the socket (libpq).
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}


def env_number(variable: str, default: float, unit: str = "seconds") -> float:
    """A number of seconds (or of another ``unit``) from the environment (``default`` when
    unset); a clear error naming the variable when it is not such a number."""
    value = os.environ.get(variable)
    if value is None or not value.strip():
        return float(default)
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number < 0:
        raise ValueError(f"{variable}={value!r}: expected a number of {unit} (0 or more)")
    return number


def session_options() -> str:
    """The ``options`` of a pipeline session: ``-c setting=value`` for every limit above."""
    values = {name: env_number(var, default) for name, (var, default) in TIMEOUTS.items()}
    parts = [f"-c {name}={int(round(v * 1000))}ms" for name, v in values.items()]
    parts += [f"-c {name}={v}" for name, v in {**LIVENESS, **PLANNER}.items()]
    return " ".join(parts)


def connect(dsn: str | None = None, **kwargs) -> psycopg.Connection:
    """A pipeline session: ``session_options`` and keepalives unless the caller gives its own."""
    dsn = dsn or warehouse.dsn()
    if "options" not in kwargs:
        own = psycopg.conninfo.conninfo_to_dict(dsn).get("options")  # the URL's own come last and win
        kwargs["options"] = f"{session_options()} {own}" if own else session_options()
    for key, value in KEEPALIVES.items():
        kwargs.setdefault(key, value)
    return psycopg.connect(dsn, **kwargs)


class WarehouseGone(RuntimeError):
    """The warehouse stopped answering in the middle of work (what was done is said)."""


def unreachable(dsn: str) -> str | None:
    """Why the warehouse does not answer (a short reason), or None when it does."""
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.execute("select 1")
        return None
    except psycopg.OperationalError as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def count(conn: psycopg.Connection, table: str) -> int:
    schema, name = table.split(".")
    return conn.execute(
        psycopg.sql.SQL("select count(*) from {}.{}").format(
            psycopg.sql.Identifier(schema), psycopg.sql.Identifier(name)
        )
    ).fetchone()[0]
