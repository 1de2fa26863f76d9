"""Warehouse roles after a real pipeline run: each permission granted and each one refused."""

import secrets
import uuid

import psycopg
import pytest
from psycopg import errors, sql

from sinfonia import publish, roles
from tests.conftest import _with_db, sinfonia

pytestmark = pytest.mark.integration

ANALYST_PASSWORD = secrets.token_urlsafe(16)  # made per run: no password in the repository
WRITE_SCHEMAS = {
    roles.LOADER: ("raw", "meta", "restricted"),
    roles.TRANSFORMER: ("seeds", "staging", "intermediate", "marts_build", "marts"),
}


@pytest.fixture(scope="module")
def warehouse(server_dsn, tmp_path_factory, state_dir):
    """A fresh database, bootstrapped with roles (the analyst with a password) by the pipeline's
    own bootstrap task, then the DAGs run on a small sample."""
    sample = tmp_path_factory.mktemp("roles-sample")
    sinfonia("sample", "--out", str(sample), "--municipalities", "60", "--scale", "0.1",
             "--first-year", "2022", "--last-year", "2024", "--seed", "11")
    name = f"roles_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    dsn = _with_db(server_dsn, name)
    sinfonia("run", "--sources", str(sample),
             env={"WAREHOUSE_DSN": dsn, "SINFONIA_ANALYST_PASSWORD": ANALYST_PASSWORD})
    yield dsn
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def _tables(conn, schema):
    return [r[0] for r in conn.execute(
        "select table_name from information_schema.tables where table_schema = %s "
        "and table_type = 'BASE TABLE' order by 1", (schema,))]


def _as(dsn, role):
    conn = psycopg.connect(dsn)
    conn.execute(f"set role {role}")
    return conn


def _refused(dsn, role, statement):
    with _as(dsn, role) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement)


def test_bootstrap_is_idempotent_and_creates_every_role(warehouse):
    roles.bootstrap_roles(warehouse)
    sinfonia("warehouse", "roles", env={"WAREHOUSE_DSN": warehouse})
    with psycopg.connect(warehouse) as conn:
        found = {r[0]: r[1] for r in conn.execute(
            "select rolname, rolcanlogin from pg_roles where rolname like 'sinfonia_%'")}
        assert set(roles.ROLES) <= set(found)
        assert found[roles.ANALYST] is True  # SINFONIA_ANALYST_PASSWORD was set
        assert conn.execute("select to_regnamespace('restricted')").fetchone()[0] is not None


def test_analyst_reads_every_mart_and_logs_in_with_its_password(warehouse):
    with psycopg.connect(warehouse) as conn:
        marts = _tables(conn, "marts")
    assert len(marts) >= 5
    with _as(warehouse, roles.ANALYST) as conn:
        for t in marts:
            query = sql.SQL("select count(*) from {}").format(sql.Identifier("marts", t))
            assert conn.execute(query).fetchone()[0] > 0, t
    info = psycopg.conninfo.conninfo_to_dict(warehouse)
    login = psycopg.conninfo.make_conninfo(**{**info, "user": roles.ANALYST, "password": ANALYST_PASSWORD})
    with psycopg.connect(login) as conn:
        assert conn.execute("select current_user").fetchone()[0] == roles.ANALYST
        assert conn.execute("select count(*) from marts.dim_municipality").fetchone()[0] > 0


@pytest.mark.parametrize("statement", [
    "select count(*) from raw.divipola",
    "select count(*) from meta.load_run",
    "select count(*) from marts_build.dim_municipality",
    "create table restricted.person_probe (id int)",
    "create table marts.analyst_probe (id int)",
    "create temporary table analyst_probe (id int)",
    "create schema analyst_probe",
    "create table public.analyst_probe (id int)",
    "insert into marts.dim_thematic_line select * from marts.dim_thematic_line limit 1",
    "update marts.dim_municipality set municipality_id = municipality_id",
    "delete from marts.fct_technical_assistance",
    "truncate marts.dim_municipality",
    "drop table marts.dim_municipality",
])
def test_analyst_is_refused(warehouse, statement):
    _refused(warehouse, roles.ANALYST, statement)


def test_analyst_cannot_read_restricted_person_level_data(warehouse):
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("create table if not exists restricted.person_probe (document text)")
        conn.execute("grant select on restricted.person_probe to public")  # even a careless grant
    _refused(warehouse, roles.ANALYST, "select count(*) from restricted.person_probe")
    with _as(warehouse, roles.TRANSFORMER) as conn:
        assert conn.execute("select count(*) from restricted.person_probe").fetchone()[0] == 0


def test_marts_published_later_are_readable_by_the_analyst(warehouse):
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("create table marts_build.mart_added_later as select 1 as id")
    try:
        counts = publish.publish(warehouse, "test-republish")
        assert counts["mart_added_later"] == 1
        with _as(warehouse, roles.ANALYST) as conn:
            assert conn.execute("select id from marts.mart_added_later").fetchone()[0] == 1
            assert conn.execute("select count(*) from marts.dim_municipality").fetchone()[0] > 0
    finally:
        with psycopg.connect(warehouse, autocommit=True) as conn:
            conn.execute("drop table if exists marts_build.mart_added_later")
            conn.execute("drop table if exists marts.mart_added_later")


@pytest.mark.parametrize("role", [roles.LOADER, roles.TRANSFORMER])
def test_writers_write_their_schemas(warehouse, role):
    probe = f"probe_{role.removeprefix('sinfonia_')}"
    with _as(warehouse, role) as conn:
        for schema in WRITE_SCHEMAS[role]:
            table = sql.Identifier(schema, probe)
            conn.execute(sql.SQL("create table {} (id int)").format(table))
            conn.execute(sql.SQL("insert into {} values (1)").format(table))
            assert conn.execute(sql.SQL("select count(*) from {}").format(table)).fetchone()[0] == 1
        conn.rollback()


def test_loader_writes_existing_raw_and_meta_tables(warehouse):
    with _as(warehouse, roles.LOADER) as conn:
        n = conn.execute("select count(*) from raw.divipola").fetchone()[0]
        conn.execute("delete from raw.divipola")
        conn.execute("update meta.load_run set message = message")
        assert n > 0
        conn.rollback()


def test_transformer_reads_raw_and_seeds_and_rebuilds_marts(warehouse):
    with _as(warehouse, roles.TRANSFORMER) as conn:
        assert conn.execute("select count(*) from raw.divipola").fetchone()[0] > 0
        assert conn.execute("select count(*) from seeds.territorial_directorates").fetchone()[0] == 16
        conn.execute("delete from marts_build.dim_thematic_line")
        conn.execute("insert into meta.publication (run_id, tables) values ('probe', '{}')")
        conn.rollback()


@pytest.mark.parametrize("role,statement", [
    (roles.LOADER, "select count(*) from marts.dim_municipality"),
    (roles.LOADER, "create table marts.loader_probe (id int)"),
    (roles.LOADER, "create table staging.loader_probe (id int)"),
    (roles.TRANSFORMER, "delete from raw.divipola"),
    (roles.TRANSFORMER, "create table raw.transformer_probe (id int)"),
    (roles.TRANSFORMER, "delete from meta.load_run"),
])
def test_writers_are_refused_outside_their_schemas(warehouse, role, statement):
    _refused(warehouse, role, statement)


def test_every_published_mart_and_column_keeps_its_dbt_description(warehouse):
    """dbt persists its docs on marts_build; publication carries them into marts (twice over)."""
    publish.publish(warehouse, "test-comments")
    with psycopg.connect(warehouse) as conn:
        built = _tables(conn, "marts_build")
        assert len(built) >= 5
        missing = conn.execute(
            """
            select c.table_name, c.column_name
              from information_schema.columns c
             where c.table_schema = 'marts' and c.table_name = any(%s)
               and (obj_description(format('marts.%%I', c.table_name)::regclass, 'pg_class') is null
                    or col_description(format('marts.%%I', c.table_name)::regclass, c.ordinal_position::int) is null)
            """, (built,)).fetchall()
        assert missing == []
        described = conn.execute(
            "select count(*) from pg_description d join pg_class c on c.oid = d.objoid "
            "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'marts' and c.relname = any(%s)",
            (built,)).fetchone()[0]
        columns = conn.execute("select count(*) from information_schema.columns where table_schema = 'marts' "
                               "and table_name = any(%s)", (built,)).fetchone()[0]
        assert described == columns + len(built)
    # meta, where a data engineer looks when something went wrong: every table and column commented
    # with its description from dbt's source declaration (the docs site shows the same text)
    from sinfonia.bootstrap import meta_descriptions

    declared = meta_descriptions()
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            """
            select c.table_name, c.column_name,
                   obj_description(format('meta.%I', c.table_name)::regclass, 'pg_class'),
                   col_description(format('meta.%I', c.table_name)::regclass, c.ordinal_position::int)
              from information_schema.columns c join information_schema.tables t using (table_schema, table_name)
             where c.table_schema = 'meta' and t.table_type = 'BASE TABLE'
            """).fetchall()
    assert {t for t, *_ in rows} >= {"landed_file", "load_run", "quarantine", "gate_result", "gate_run", "publication",
                                     "notification_sent", "prioritisation_run"}
    undescribed = [(t, c) for t, c, about, text in rows if not about or not text]
    assert undescribed == []
    assert all(about == declared[t][0] and text == declared[t][1][c] for t, c, about, text in rows)
