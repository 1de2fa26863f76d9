"""Publication's catalogue rules against a throwaway database (seconds): which tables it copies,
which grants follow them, what the command line shows, and the refusal before any publication.
"""

from __future__ import annotations

import psycopg
import pytest

from sinfonia import dbt, publish, roles
from sinfonia.bootstrap import bootstrap

pytestmark = pytest.mark.integration

GRANTEE = "sinfonia_test_publish_grantee"  # a cluster-wide role, left in place (created if missing)


@pytest.fixture(scope="module")
def template(server_dsn):
    from tests.conftest import throwaway_database

    with psycopg.connect(server_dsn, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_roles where rolname = %s", (GRANTEE,)).fetchone():
            try:
                conn.execute(f"create role {GRANTEE} nologin")
            except psycopg.errors.DuplicateObject:
                pass  # created meanwhile by a concurrent session
    with throwaway_database(server_dsn, "pubfast_tpl") as dsn:
        bootstrap(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("create schema if not exists marts_build")
            conn.execute("create table marts_build.mart_a (id integer primary key, v text)")
            conn.execute("insert into marts_build.mart_a values (1, 'x'), (2, 'y'), (3, 'z')")
            conn.execute("comment on table marts_build.mart_a is 'A.'")
            conn.execute("create table marts_build.mart_b (id integer)")
            conn.execute("create view marts_build.a_view as select 1 as one")
        yield dsn


@pytest.fixture
def dsn(server_dsn, template):
    from tests.conftest import dbname, throwaway_database

    with throwaway_database(server_dsn, "pubfast", template=dbname(template)) as url:
        yield url


def _grants(conn, table):
    return sorted(conn.execute(
        """select coalesce(r.rolname, 'public'), a.privilege_type, a.is_grantable
             from pg_class c cross join lateral aclexplode(c.relacl) a left join pg_roles r on r.oid = a.grantee
            where c.oid = %s::regclass and a.grantee <> c.relowner""", (table,)).fetchall())


def test_only_the_built_base_tables_are_published_with_their_rows_and_comment(dsn):
    with psycopg.connect(dsn) as conn:
        assert publish.built_tables(conn) == ["mart_a", "mart_b"]
    assert publish.publish(dsn, "first") == {"mart_a": 3, "mart_b": 0}
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select obj_description('marts.mart_a'::regclass, 'pg_class'), "
                            "obj_description('marts.mart_b'::regclass, 'pg_class')").fetchone() == ("A.", None)
        assert conn.execute("select to_regclass('marts.a_view')").fetchone()[0] is None
        assert conn.execute("select run_id, tables from meta.publication").fetchall() == [
            ("first", {"mart_a": 3, "mart_b": 0})]
        # The analyst's SELECT, and the transformer's through the default privileges.
        assert _grants(conn, "marts.mart_b") == _grants(conn, "marts.mart_a")
        assert (roles.ANALYST, "SELECT", False) in _grants(conn, "marts.mart_b")
        assert not [g for g in _grants(conn, "marts.mart_b") if g[0] not in (roles.ANALYST, roles.TRANSFORMER)]


def test_every_grant_of_the_published_table_follows_it_the_grant_option_and_public_included(dsn):
    publish.publish(dsn, "first")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"grant select, update on marts.mart_a to {GRANTEE} with grant option")
        conn.execute("grant select on marts.mart_a to public")
        before = _grants(conn, "marts.mart_a")
    assert {(GRANTEE, "SELECT", True), (GRANTEE, "UPDATE", True), (roles.ANALYST, "SELECT", False),
            ("public", "SELECT", False)} <= set(before)
    publish.publish(dsn, "second")
    with psycopg.connect(dsn) as conn:
        assert _grants(conn, "marts.mart_a") == before
        assert not [g for g in _grants(conn, "marts.mart_b") if g[0] in (GRANTEE, "public")]


def test_the_marts_counts_list_the_published_tables_and_the_models_not_published_yet(dsn, monkeypatch):
    monkeypatch.setattr(dbt, "mart_models", lambda: ["mart_a", "mart_z"])
    publish.publish(dsn, "first")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create table marts.extra (x int)")
        conn.execute("insert into marts.extra values (1), (2)")
    assert publish.mart_counts(dsn) == {"extra": 2, "mart_a": 3, "mart_b": 0, "mart_z": None}
    assert list(publish.mart_counts(dsn)) == ["extra", "mart_a", "mart_b", "mart_z"]
    assert publish.summary(dsn) == (
        "\nPublished marts (schema marts):\n"
        f"  marts.{'extra':<32}        2 rows\n"
        f"  marts.{'mart_a':<32}        3 rows\n"
        f"  marts.{'mart_b':<32}        0 rows\n"
        f"  marts.{'mart_z':<32} —")


def test_a_warehouse_without_published_marts_is_refused_with_what_builds_them(dsn):
    with pytest.raises(publish.NoMarts) as raised:
        publish.require_marts(dsn)
    message = str(raised.value)
    assert message.endswith("has no published marts yet: run `sinfonia run --sources DIR` (or `sinfonia demo`) first")
    password = psycopg.conninfo.conninfo_to_dict(dsn).get("password")
    assert not password or password not in message
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create table marts.dim_municipality (x int)")
    publish.require_marts(dsn)


def test_a_stale_staged_table_is_replaced_and_the_stage_left_empty(dsn):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create schema if not exists marts_next")
        conn.execute("create table marts_next.mart_a (stale text)")
    publish.publish(dsn, "first")
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select count(*) from marts.mart_a").fetchone()[0] == 3
        assert conn.execute("select count(*) from information_schema.tables where table_schema = 'marts_next'"
                            ).fetchone()[0] == 0


def test_while_publication_waits_for_a_reader_it_holds_no_lock_on_what_dbt_builds(dsn, monkeypatch):
    """Publication stages and swaps in their own transactions (autocommit): while it waits for a
    reader of ``marts``, dbt may rebuild ``marts_build`` and the staged tables are nobody's."""
    publish.publish(dsn, "first")
    reader = psycopg.connect(dsn)
    reader.execute("select count(*) from marts.mart_a")  # its transaction holds the table
    observed = []

    def pause(seconds):
        with psycopg.connect(dsn, autocommit=True) as other:
            for table in ("marts_build.mart_a", "marts_next.mart_a"):
                try:
                    with other.transaction():
                        other.execute(f"lock table {table} in access exclusive mode nowait")
                    observed.append((table, "free"))
                except psycopg.errors.LockNotAvailable:
                    observed.append((table, "held"))
        reader.rollback()  # the read ends: the next try publishes

    monkeypatch.setattr(publish.time, "sleep", pause)
    try:
        assert publish.publish(dsn, "second", wait=30) == {"mart_a": 3, "mart_b": 0}
    finally:
        reader.close()
    assert observed == [("marts_build.mart_a", "free"), ("marts_next.mart_a", "free")]
