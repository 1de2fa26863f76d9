"""Every grant of ``sinfonia.roles`` by the catalogue (seconds: a bootstrapped empty warehouse):
the schema privileges of each role, the tables that exist and those created later by each
writer, sequences, temporary tables, the bookkeeping rows the transformer writes, the analyst's
session limits and the passwords from the environment.

The roles are the server's (shared by its databases): a test that changes one restores it.
"""

from __future__ import annotations

import secrets

import psycopg
import pytest
from psycopg import sql

from sinfonia import config, roles
from sinfonia.bootstrap import bootstrap

pytestmark = pytest.mark.integration

L, T, A = roles.LOADER, roles.TRANSFORMER, roles.ANALYST
# Who creates a table later, where (the loader its raw, meta and restricted tables; dbt the rest).
WRITERS = ((L, "raw"), (L, "meta"), (L, config.RESTRICTED), (T, "staging"), (T, "marts"), (T, "marts_build"))
TABLE_PRIVILEGES = ("select", "insert", "update", "delete", "truncate", "references", "trigger")


@pytest.fixture
def warehouse(server_dsn):
    """Bootstrapped for each test (under a second): the roles are applied inside the test that
    checks them, so that a generated mutant of ``roles.apply`` is run against every test here,
    not only against the first (mutmut relates a module fixture's calls to the first test)."""
    from tests.conftest import throwaway_database

    with throwaway_database(server_dsn, "grants") as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            # Tables that exist before the roles are applied, one in each schema, with a sequence.
            for schema in config.SCHEMAS:
                conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
                conn.execute(sql.SQL("create table {} (id serial)").format(sql.Identifier(schema, "before")))
        bootstrap(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            for role, schema in WRITERS:
                conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
                conn.execute(sql.SQL("create table {} (id serial)").format(sql.Identifier(schema, "later")))
                conn.execute("reset role")
            conn.execute("create table marts.later_by_owner (x int)")
        yield dsn


def _table_privileges(conn, role, table):
    return {p for p in TABLE_PRIVILEGES
            if conn.execute("select has_table_privilege(%s, %s, %s)", (role, table, p)).fetchone()[0]}


ALL = set(TABLE_PRIVILEGES)
# schema -> role -> privileges on its tables (existing and created later)
EXPECTED = {
    "raw": {L: ALL, T: {"select"}, A: set()},
    "meta": {L: ALL, T: {"select"}, A: set()},
    config.RESTRICTED: {L: ALL, T: {"select"}, A: set()},
    **{s: {L: set(), T: ALL, A: set()} for s in config.DBT_SCHEMAS},
    "marts": {L: set(), T: ALL, A: {"select"}},
}


def test_each_role_has_its_privileges_on_the_tables_that_existed_before(warehouse):
    with psycopg.connect(warehouse) as conn:
        for schema, role, privileges in ((s, r, p) for s in config.SCHEMAS for r, p in EXPECTED[s].items()):
            assert _table_privileges(conn, role, f"{schema}.before") == privileges, role
            sequence = f"{schema}.before_id_seq"
            usage = conn.execute("select has_sequence_privilege(%s, %s, 'usage'), has_sequence_privilege(%s, %s, "
                                 "'select'), has_sequence_privilege(%s, %s, 'update')",
                                 (role, sequence) * 3).fetchone()
            if privileges == ALL:
                assert usage == (True, True, True), (role, sequence)
            elif privileges == {"select"} and not (schema == "meta" and role == T):
                assert usage == (False, True, False), (role, sequence)
            elif schema != "meta":
                assert usage == (False, False, False), (role, sequence)


def test_tables_each_writer_creates_later_get_the_same_privileges(warehouse):
    with psycopg.connect(warehouse) as conn:
        for role, schema in WRITERS:
            for other, privileges in EXPECTED[schema].items():
                if other != role:
                    assert _table_privileges(conn, other, f"{schema}.later") == privileges, (schema, other)


def test_a_table_the_bootstrap_user_creates_in_marts_later_is_readable_by_the_analyst(warehouse):
    with psycopg.connect(warehouse) as conn:
        assert _table_privileges(conn, A, "marts.later_by_owner") == {"select"}
        assert _table_privileges(conn, T, "marts.later_by_owner") == ALL


def test_schema_privileges_match_the_grants_and_public_has_none(warehouse):
    with psycopg.connect(warehouse) as conn:
        for schema in config.SCHEMAS:
            for role in (*roles.ROLES, "public"):
                granted = roles.GRANTS.get(schema, {}).get(role, ("", ""))[0]
                for privilege in ("usage", "create"):
                    query = ("select has_schema_privilege(%s, %s)" if role == "public" else
                             "select has_schema_privilege(%s, %s, %s)")
                    if role == "public":
                        has = conn.execute(
                            "select exists (select 1 from pg_namespace n cross join lateral aclexplode(n.nspacl) a "
                            "where n.nspname = %s and a.grantee = 0 and a.privilege_type = upper(%s))",
                            (schema, privilege)).fetchone()[0]
                    else:
                        has = conn.execute(query, (role, schema, privilege)).fetchone()[0]
                    assert has == (privilege in granted), (schema, role, privilege)
        assert not conn.execute("select exists (select 1 from pg_namespace n cross join lateral aclexplode(n.nspacl) a"
                                " where n.nspname = 'public' and a.grantee = 0 and a.privilege_type = 'CREATE')"
                                ).fetchone()[0]


def test_only_the_loader_and_the_transformer_may_create_temporary_tables_and_every_role_may_connect(warehouse):
    with psycopg.connect(warehouse) as conn:
        database = conn.execute("select current_database()").fetchone()[0]
        for role, temporary in ((L, True), (T, True), (A, False)):
            assert conn.execute("select has_database_privilege(%s, %s, 'temporary'), "
                                "has_database_privilege(%s, %s, 'connect')",
                                (role, database, role, database)).fetchone() == (temporary, True), role
        public = conn.execute("select exists (select 1 from pg_database d cross join lateral aclexplode(d.datacl) a "
                              "where d.datname = %s and a.grantee = 0 and a.privilege_type = 'TEMPORARY')",
                              (database,)).fetchone()[0]
        assert not public
        maintenance = conn.execute("select exists (select 1 from pg_database d cross join lateral aclexplode(d.datacl)"
                                   " a where d.datname = 'postgres' and a.grantee = 0 and a.privilege_type = "
                                   "'TEMPORARY')").fetchone()[0]
        assert not maintenance, "the analyst could create temporary tables in the server's own database"


def test_the_transformer_records_gate_results_and_publications_and_nothing_else_in_meta(warehouse):
    with psycopg.connect(warehouse) as conn:
        for table in roles.TRANSFORMER_META_TABLES:
            assert _table_privileges(conn, T, table) == {"select", "insert"}, table
        assert _table_privileges(conn, T, "meta.load_run") == {"select"}
        sequences = [r[0] for r in conn.execute(
            "select format('meta.%I', sequencename) from pg_sequences where schemaname = 'meta' "
            "and sequencename <> 'later_id_seq'")]
        assert sequences
        for sequence in sequences:
            assert conn.execute("select has_sequence_privilege(%s, %s, 'usage')", (T, sequence)).fetchone()[0], sequence
        for role in (L, T):
            assert _table_privileges(conn, role, "meta.run_lock") >= {"select", "insert", "update"}
        assert _table_privileges(conn, A, "meta.run_lock") == set()


def _role_settings(conn, role):
    row = conn.execute("select rolconfig from pg_roles where rolname = %s", (role,)).fetchone()
    return sorted(row[0] or [])


def test_the_analysts_sessions_carry_the_limits_and_the_environment_changes_them(warehouse, monkeypatch):
    with psycopg.connect(warehouse, autocommit=True) as conn:
        for variable, _default in roles.ANALYST_LIMITS.values():
            monkeypatch.delenv(variable, raising=False)
        roles.analyst_limits(conn)
        assert _role_settings(conn, A) == ["idle_in_transaction_session_timeout=60000ms", "lock_timeout=10000ms",
                                           "statement_timeout=300000ms"]
        try:
            monkeypatch.setenv("SINFONIA_ANALYST_LOCK_TIMEOUT", "0.0015")
            monkeypatch.setenv("SINFONIA_ANALYST_STATEMENT_TIMEOUT", "0")
            roles.analyst_limits(conn)
            assert _role_settings(conn, A) == ["idle_in_transaction_session_timeout=60000ms", "lock_timeout=2ms",
                                               "statement_timeout=0ms"]
        finally:
            monkeypatch.delenv("SINFONIA_ANALYST_LOCK_TIMEOUT")
            monkeypatch.delenv("SINFONIA_ANALYST_STATEMENT_TIMEOUT")
            roles.analyst_limits(conn)


def test_a_password_in_the_environment_gives_its_role_a_login_and_none_leaves_the_login_as_it_is(
        warehouse, monkeypatch):
    with psycopg.connect(warehouse, autocommit=True) as conn:
        was = conn.execute("select rolcanlogin from pg_roles where rolname = %s", (A,)).fetchone()[0]
        for role in roles.ROLES:
            monkeypatch.delenv(roles.PASSWORD_ENV[role], raising=False)
        assert roles.PASSWORD_ENV == {L: "SINFONIA_LOADER_PASSWORD", T: "SINFONIA_TRANSFORMER_PASSWORD",
                                      A: "SINFONIA_ANALYST_PASSWORD"}
        try:
            generated = secrets.token_urlsafe(16)  # a throwaway credential, made up here
            monkeypatch.setenv("SINFONIA_ANALYST_PASSWORD", generated)
            roles._ensure_role(conn, A)
            assert conn.execute("select rolcanlogin from pg_roles where rolname = %s", (A,)).fetchone()[0]
            # the password itself is set (a server trusting local connections would let any in)
            assert conn.execute("select rolpassword is not null from pg_authid where rolname = %s",
                                (A,)).fetchone()[0]
            info = psycopg.conninfo.conninfo_to_dict(warehouse)
            info.update(user=A, password=generated)
            with psycopg.connect(**info) as analyst:
                assert analyst.execute("select current_user").fetchone()[0] == A
            monkeypatch.delenv("SINFONIA_ANALYST_PASSWORD")
            roles._ensure_role(conn, A)
            assert conn.execute("select rolcanlogin from pg_roles where rolname = %s", (A,)).fetchone()[0]
        finally:
            conn.execute(sql.SQL("alter role {} {} password null").format(
                sql.Identifier(A), sql.SQL("login" if was else "nologin")))


def test_a_role_missing_is_created_without_login(warehouse):
    role = "sinfonia_test_grants_probe"
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute(f"drop role if exists {role}")
        roles.PASSWORD_ENV.setdefault(role, "SINFONIA_TEST_GRANTS_PROBE_PASSWORD")
        try:
            roles._ensure_role(conn, role)
            assert conn.execute("select rolcanlogin from pg_roles where rolname = %s", (role,)).fetchone() == (False,)
            roles._ensure_role(conn, role)  # again: nothing to do
        finally:
            roles.PASSWORD_ENV.pop(role)
            conn.execute(f"drop role if exists {role}")


def test_applying_again_takes_back_what_an_earlier_grant_gave_the_analyst(warehouse):
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute(f"grant usage, create on schema raw to {A}")
        conn.execute(f"grant usage on schema meta to {A}")
        conn.execute("create table marts.after_grant (x int)")
        conn.execute(f"revoke all on marts.after_grant from {A}")
        with conn.transaction():
            roles.apply(conn)
        for schema in ("raw", "meta"):
            for privilege in ("usage", "create"):
                assert not conn.execute("select has_schema_privilege(%s, %s, %s)",
                                        (A, schema, privilege)).fetchone()[0], (schema, privilege)
        assert _table_privileges(conn, A, "marts.after_grant") == {"select"}


def test_grant_marts_gives_the_analyst_every_table_of_marts(warehouse):
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("create table marts.regranted (x int)")
        conn.execute(f"revoke all on marts.regranted from {A}")
        conn.execute(f"revoke usage on schema marts from {A}")
        roles.grant_marts(conn)
        assert _table_privileges(conn, A, "marts.regranted") == {"select"}
        assert conn.execute("select has_schema_privilege(%s, 'marts', 'usage')", (A,)).fetchone()[0]


def test_applying_takes_create_on_the_public_schema_from_public(warehouse):
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("grant create on schema public to public")
        with conn.transaction():
            roles.apply(conn)
        for role in roles.ROLES:
            assert not conn.execute("select has_schema_privilege(%s, 'public', 'create')", (role,)).fetchone()[0]


def test_a_database_dropped_while_the_roles_are_applied_is_passed_over(warehouse, server_dsn):
    """roles.apply lists the server's databases, then revokes TEMPORARY on each: another session
    (a test worker's throwaway database, an operator) may drop one in between."""
    from tests.conftest import dbname, throwaway_database

    with throwaway_database(server_dsn, "dropped") as doomed:
        name = dbname(doomed)

    class DropsAfterListing:
        """The connection, with the database dropped right after apply has listed them."""

        def __init__(self, conn):
            self.conn = conn

        def execute(self, query, *args, **kwargs):
            cur = self.conn.execute(query, *args, **kwargs)
            if isinstance(query, str) and query.startswith("select datname from pg_database"):
                rows = [(name,)] + cur.fetchall()  # listed first, and gone by the time it is revoked on
                return type("Listed", (), {"fetchall": lambda _self: rows})()
            return cur

        def __getattr__(self, attr):
            return getattr(self.conn, attr)

    with psycopg.connect(warehouse, autocommit=True) as conn:
        # PUBLIC's TEMPORARY given back (bootstrap took it): the databases listed after the one
        # dropped must still lose it
        conn.execute(sql.SQL("grant temporary on database {} to public").format(sql.Identifier(dbname(warehouse))))
        roles.apply(DropsAfterListing(conn))
        assert conn.execute("select has_database_privilege('public', current_database(), 'temporary')").fetchone() \
            == (False,)


def test_applying_again_takes_back_an_earlier_create_on_marts_from_the_analyst(warehouse):
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute(f"grant usage, create on schema marts to {A}")
        with conn.transaction():
            roles.apply(conn)
        assert conn.execute("select has_schema_privilege(%s, 'marts', 'usage')", (A,)).fetchone()[0]
        assert not conn.execute("select has_schema_privilege(%s, 'marts', 'create')", (A,)).fetchone()[0]
