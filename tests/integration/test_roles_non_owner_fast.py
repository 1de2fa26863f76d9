"""The roles applied by a bootstrap user that is not a superuser and does not own the ``public``
schema (a managed server's account that owns the database only): ``sinfonia bootstrap``'s entry
(``roles.bootstrap_roles``) applies every grant it may and leaves ``public`` to its owner instead
of failing on a revoke only the owner may make (seconds: an empty database).

The roles are the server's (shared by its databases); the bootstrap user is made for the test and
dropped after it.
"""

from __future__ import annotations

import secrets
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

from sinfonia import config, roles

pytestmark = pytest.mark.integration


@contextmanager
def _bootstrap_user(server_dsn: str, createrole: bool = True):
    """(superuser URL, bootstrap user's URL) of a new database the bootstrap user owns, whose
    ``public`` schema belongs to the superuser and grants PUBLIC nothing (so that a revoke on it
    by anyone else is refused, not a warning). The user may act as the transformer, not as the
    loader; with ``createrole``, it may alter the analyst (CREATEROLE, and ADMIN as PostgreSQL 16
    requires), without it nothing lets it."""
    from tests.conftest import throwaway_database

    user, password = f"sinfonia_boot_{secrets.token_hex(4)}", secrets.token_hex(16)
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} login {} password {}").format(
            sql.Identifier(user), sql.SQL("createrole" if createrole else "nocreaterole"), sql.Literal(password)))
        for role in roles.ROLES:
            if not conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
                conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
        conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(roles.TRANSFORMER), sql.Identifier(user)))
        if createrole:
            conn.execute(sql.SQL("grant {} to {} with admin option").format(sql.Identifier(roles.ANALYST),
                                                                           sql.Identifier(user)))
    try:
        with throwaway_database(server_dsn, "notowner") as dsn:
            database = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("alter database {} owner to {}").format(sql.Identifier(database),
                                                                           sql.Identifier(user)))
                conn.execute("alter schema public owner to current_user")
                conn.execute("revoke all on schema public from public")
            yield dsn, psycopg.conninfo.make_conninfo(dsn, user=user, password=password)
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(user)))


def _public_acl(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        return conn.execute("select nspowner::regrole::text || ' ' || nspacl::text from pg_namespace "
                            "where nspname = 'public'").fetchone()[0]


def test_a_bootstrap_user_not_owning_public_applies_the_roles_and_leaves_public_alone(server_dsn):
    with _bootstrap_user(server_dsn) as (dsn, as_user), _applied(dsn, as_user) as conn:
        # tables the transformer creates later are the analyst's to read, though the bootstrap
        # user may not act as the loader (whose defaults it cannot set, and passes over)
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(roles.TRANSFORMER)))
        conn.execute("create table marts.later (x int)")
        conn.execute("reset role")
        assert conn.execute("select has_table_privilege(%s, 'marts.later', 'select')", (roles.ANALYST,)).fetchone()[0]


@contextmanager
def _applied(dsn: str, as_user: str):
    """``bootstrap_roles`` as ``as_user``, its effects checked; then a superuser connection."""
    public = _public_acl(dsn)
    roles.bootstrap_roles(as_user)  # no revoke on public attempted: it would be refused
    assert _public_acl(dsn) == public
    with psycopg.connect(dsn) as conn:  # committed: seen from another session
        assert {s for (s,) in conn.execute("select nspname from pg_namespace")} >= set(config.SCHEMAS)
        privilege = "select has_schema_privilege(%s, %s, 'usage')"
        assert conn.execute(privilege, (roles.ANALYST, "marts")).fetchone()[0]
        assert not conn.execute(privilege, (roles.ANALYST, "raw")).fetchone()[0]
        assert not conn.execute("select has_database_privilege(%s, current_database(), 'temporary')",
                                (roles.ANALYST,)).fetchone()[0]
        yield conn


def test_a_bootstrap_user_refused_a_grant_changes_nothing(server_dsn):
    """The roles are applied in one transaction: a user that may not alter the analyst (the last
    step, its session limits) leaves no schema or grant behind."""
    with _bootstrap_user(server_dsn, createrole=False) as (dsn, as_user):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            roles.bootstrap_roles(as_user)
        with psycopg.connect(dsn) as conn:
            schemas = {s for (s,) in conn.execute("select nspname from pg_namespace")}
        assert not schemas & set(config.SCHEMAS)
