"""Warehouse roles (DESIGN.md §7): who may read and write which schema. Idempotent.

- ``sinfonia_loader``: writes ``raw`` and ``meta`` (and ``restricted``, person-level data).
- ``sinfonia_transformer``: reads ``raw``, ``restricted`` and ``seeds``; writes the dbt schemas
  (``seeds``, ``staging``, ``intermediate``, ``marts_build``, ``marts_next``, ``marts``) and its bookkeeping rows
  in ``meta.gate_run``, ``meta.gate_result`` and ``meta.publication``.
- ``sinfonia_analyst``: read-only, ``marts`` only: SELECT on every mart (also on the tables
  ``publish`` recreates later: :func:`grant_marts` runs inside each publication, and default
  privileges cover tables created by the bootstrap user and the transformer). No ``raw``, no
  ``meta``, no ``restricted``, no CREATE (not even temporary tables), no writes.

Passwords come only from the environment (``SINFONIA_LOADER_PASSWORD``,
``SINFONIA_TRANSFORMER_PASSWORD``, ``SINFONIA_ANALYST_PASSWORD``): a role whose variable is set
gets LOGIN with that password; otherwise it is created NOLOGIN (usable through ``SET ROLE`` by
members, e.g. locally) and an existing role's login is left as it is.
"""

from __future__ import annotations

import os

import psycopg
from psycopg import sql

from sinfonia import runlock
from sinfonia.config import DBT_SCHEMAS, RESTRICTED, SCHEMAS

LOADER, TRANSFORMER, ANALYST = "sinfonia_loader", "sinfonia_transformer", "sinfonia_analyst"
ROLES = (LOADER, TRANSFORMER, ANALYST)
PASSWORD_ENV = {r: f"SINFONIA_{r.removeprefix('sinfonia_').upper()}_PASSWORD" for r in ROLES}

# The schemas as config spells them (marts_next: where publish stages the marts before the swap).
ALL_SCHEMAS = SCHEMAS

# schema -> {role: (schema privileges, table privileges)}
GRANTS: dict[str, dict[str, tuple[str, str]]] = {
    "raw": {LOADER: ("usage, create", "all"), TRANSFORMER: ("usage", "select")},
    "meta": {LOADER: ("usage, create", "all"), TRANSFORMER: ("usage", "select")},
    RESTRICTED: {LOADER: ("usage, create", "all"), TRANSFORMER: ("usage", "select")},
    **{s: {TRANSFORMER: ("usage, create", "all")} for s in DBT_SCHEMAS},
    "marts": {TRANSFORMER: ("usage, create", "all"), ANALYST: ("usage", "select")},
}
# The analyst's sessions cannot hold locks or run for long (ALTER ROLE ... SET: every session of
# the role starts with them): a transaction left open, or a runaway query, is ended by the server,
# so no analyst session keeps publication waiting. Seconds; configurable, 0 turns one off.
ANALYST_LIMITS = {  # setting -> (environment variable, default seconds)
    "idle_in_transaction_session_timeout": ("SINFONIA_ANALYST_IDLE_IN_TRANSACTION_TIMEOUT", 60),
    "statement_timeout": ("SINFONIA_ANALYST_STATEMENT_TIMEOUT", 300),
    "lock_timeout": ("SINFONIA_ANALYST_LOCK_TIMEOUT", 10),
}

# The transformer records gate runs and results (the marts gates are its) and publications
# (sequences included).
TRANSFORMER_META_TABLES = ("meta.gate_run", "meta.gate_result", "meta.publication")


def _ident(*names: str) -> sql.Composable:
    return sql.Identifier(*names)


def _ensure_role(conn: psycopg.Connection, role: str) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
    if not exists:
        conn.execute(sql.SQL("create role {} nologin").format(_ident(role)))
    password = os.environ.get(PASSWORD_ENV[role])
    if password:
        conn.execute(sql.SQL("alter role {} login password {}").format(_ident(role), sql.Literal(password)))


def _can_act_as(conn: psycopg.Connection, role: str) -> bool:
    return bool(conn.execute("select pg_has_role(current_user, %s, 'MEMBER')", (role,)).fetchone()[0])


def _owns(conn: psycopg.Connection, owner_query: str) -> bool:
    row = conn.execute(f"select pg_has_role(current_user, ({owner_query}), 'USAGE')").fetchone()
    return bool(row and row[0])


def grant_marts(conn: psycopg.Connection) -> None:
    """Re-grant SELECT on every table of ``marts`` to the analyst (after ``publish`` recreated
    them). Does nothing when the role does not exist (a warehouse never bootstrapped with roles)."""
    if conn.execute("select 1 from pg_roles where rolname = %s", (ANALYST,)).fetchone():
        conn.execute(sql.SQL("grant usage on schema marts to {}").format(_ident(ANALYST)))
        conn.execute(sql.SQL("grant select on all tables in schema marts to {}").format(_ident(ANALYST)))


def apply(conn: psycopg.Connection) -> None:
    """Create the schemas and roles and (re)apply every grant. Needs CREATEROLE (or superuser)."""
    for schema in ALL_SCHEMAS:
        conn.execute(sql.SQL("create schema if not exists {}").format(_ident(schema)))
    for role in ROLES:
        _ensure_role(conn, role)
    database = conn.execute("select current_database()").fetchone()[0]
    db = _ident(database)
    # Nobody gets temporary tables by default (PUBLIC has TEMP): the analyst must create nothing.
    # Only the database's (and public schema's) owner may revoke these; PostgreSQL 15+ already
    # denies CREATE on public, and a managed server's owner account runs this in production.
    # Every database of the server this user owns (the server's own ``postgres`` one included):
    # the analyst may connect there (PUBLIC may) but must create nothing there either.
    for (other,) in conn.execute("select datname from pg_database where datallowconn and not datistemplate "
                                 "and pg_has_role(current_user, datdba, 'USAGE') order by datname").fetchall():
        try:  # a database dropped by another session since the list was read has nothing to revoke
            with conn.transaction():
                conn.execute(sql.SQL("revoke temporary on database {} from public").format(_ident(other)))
        except psycopg.errors.InvalidCatalogName:
            continue
    if _owns(conn, "select nspowner from pg_namespace where nspname = 'public'"):
        conn.execute(sql.SQL("revoke create on schema public from public"))
    for role in ROLES:
        conn.execute(sql.SQL("grant connect on database {} to {}").format(db, _ident(role)))
    for role in (LOADER, TRANSFORMER):
        conn.execute(sql.SQL("grant temporary on database {} to {}").format(db, _ident(role)))
    for schema in ALL_SCHEMAS:
        conn.execute(sql.SQL("revoke all on schema {} from public").format(_ident(schema)))
        for role, (schema_privs, table_privs) in GRANTS.get(schema, {}).items():
            r, s = _ident(role), _ident(schema)
            conn.execute(sql.SQL("grant " + schema_privs + " on schema {} to {}").format(s, r))
            conn.execute(sql.SQL("grant " + table_privs + " on all tables in schema {} to {}").format(s, r))
            seq = "all" if table_privs == "all" else "select"
            conn.execute(sql.SQL("grant " + seq + " on all sequences in schema {} to {}").format(s, r))
            # Tables created later by the bootstrap user, the loader or the transformer.
            for owner in ("current_user", LOADER, TRANSFORMER):
                if owner != "current_user" and not _can_act_as(conn, owner):
                    continue
                target = sql.SQL("current_user") if owner == "current_user" else _ident(owner)
                conn.execute(sql.SQL("alter default privileges for role {} in schema {} grant "
                                     + table_privs + " on tables to {}").format(target, s, r))
    for table in TRANSFORMER_META_TABLES:
        if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0]:
            conn.execute(sql.SQL("grant select, insert on {} to {}").format(
                _ident(*table.split(".")), _ident(TRANSFORMER)))
    conn.execute(sql.SQL("grant usage on all sequences in schema meta to {}").format(_ident(TRANSFORMER)))
    # The run lock's row: the pipeline's roles (and nobody else) may take it (sinfonia.runlock).
    runlock.ensure_table(conn)
    runlock.grant(conn)
    # The analyst: nothing outside marts and only reading in it, whatever an earlier grant said
    # (an earlier CREATE on marts is taken back too; grant_marts gives USAGE back right after).
    for schema in ALL_SCHEMAS:
        conn.execute(sql.SQL("revoke all on schema {} from {}").format(_ident(schema), _ident(ANALYST)))
    grant_marts(conn)
    analyst_limits(conn)


def analyst_limits(conn: psycopg.Connection) -> None:
    """``ANALYST_LIMITS`` as the analyst role's defaults (``alter role ... set``)."""
    from sinfonia.db import env_number

    for setting, (variable, default) in ANALYST_LIMITS.items():
        milliseconds = int(round(env_number(variable, default) * 1000))
        conn.execute(sql.SQL("alter role {} set " + setting + " = {}").format(
            _ident(ANALYST), sql.Literal(f"{milliseconds}ms")))


def bootstrap_roles(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=False) as conn:
        apply(conn)


def can_log_in(dsn: str) -> dict[str, bool]:
    """Which of the project's roles exist with LOGIN (a role missing is absent from the answer)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return dict(conn.execute("select rolname, rolcanlogin from pg_roles where rolname = any(%s)",
                                 (list(ROLES),)).fetchall())
