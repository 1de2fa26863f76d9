"""The analyst's privileges on every raw, restricted and working table, by the catalogue's
``has_table_privilege`` (seconds: a bootstrapped empty warehouse, no pipeline run).

``select`` through the analyst's own session is refused for a table of a schema it may not use
even when the table itself was granted, so only ``has_table_privilege`` sees a table-level grant
that should not be there; the slow modules (test_monitoring, test_roles) check it after whole
pipeline runs. Tables the transformer creates later (dbt's restricted models, new working tables)
are covered through the default privileges by creating one of each as the transformer.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from sinfonia import roles
from sinfonia.bootstrap import bootstrap
from sinfonia.ingest import sources

pytestmark = pytest.mark.integration

PRIVILEGES = ("select", "insert", "update", "delete", "truncate", "references", "trigger")
NOT_FOR_ANALYST = ("raw", "meta", roles.RESTRICTED, "seeds", "staging", "intermediate", "marts_build", "marts_next")


@pytest.fixture
def warehouse(server_dsn):  # per test: a mutant of roles.apply meets every test (see test_roles_grants_fast)
    from tests.conftest import throwaway_database

    with throwaway_database(server_dsn, "privs") as dsn:
        bootstrap(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"set role {roles.TRANSFORMER}")
            for schema in ("staging", "intermediate", "marts_build", "marts_next", "seeds", roles.RESTRICTED):
                if schema == roles.RESTRICTED:
                    conn.execute("reset role")
                    conn.execute(f"set role {roles.LOADER}")
                conn.execute(sql.SQL("create table {} (x text)").format(sql.Identifier(schema, "probe_later")))
        yield dsn


def _relations(conn, schemas) -> list[str]:
    return [r[0] for r in conn.execute(
        "select format('%%I.%%I', n.nspname, c.relname) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = any(%s) and c.relkind in ('r', 'v', 'm', 'p') order by 1", (list(schemas),))]


def test_every_raw_and_restricted_table_of_the_catalogue_exists_after_bootstrap(warehouse):
    with psycopg.connect(warehouse) as conn:
        relations = set(_relations(conn, ("raw", roles.RESTRICTED)))
    expected = {f"{spec.schema}.{spec.name}" for spec in sources.CATALOGUE}
    assert expected <= relations, sorted(expected - relations)
    assert any(r.startswith(f"{roles.RESTRICTED}.") for r in expected)


def test_the_analyst_holds_no_privilege_on_any_table_outside_marts(warehouse):
    with psycopg.connect(warehouse) as conn:
        relations = _relations(conn, NOT_FOR_ANALYST)
        assert len(relations) >= len(sources.CATALOGUE) + 6
        granted = [(rel, p) for rel in relations for p in PRIVILEGES
                   if conn.execute("select has_table_privilege(%s, %s, %s)", (roles.ANALYST, rel, p)).fetchone()[0]]
    assert not granted, f"the analyst may: {granted}"


def test_the_analyst_may_use_only_the_marts_schema(warehouse):
    with psycopg.connect(warehouse) as conn:
        for schema in NOT_FOR_ANALYST:
            for privilege in ("usage", "create"):
                assert not conn.execute("select has_schema_privilege(%s, %s, %s)",
                                        (roles.ANALYST, schema, privilege)).fetchone()[0], (schema, privilege)
        assert conn.execute("select has_schema_privilege(%s, 'marts', 'usage')", (roles.ANALYST,)).fetchone()[0]
        assert not conn.execute("select has_schema_privilege(%s, 'marts', 'create')", (roles.ANALYST,)).fetchone()[0]


def test_the_transformer_reads_restricted_and_raw_but_writes_neither(warehouse):
    with psycopg.connect(warehouse) as conn:
        for rel in _relations(conn, ("raw", roles.RESTRICTED)):
            may = {p: conn.execute("select has_table_privilege(%s, %s, %s)", (roles.TRANSFORMER, rel, p)).fetchone()[0]
                   for p in ("select", "insert", "update", "delete", "truncate")}
            assert may == {"select": True, "insert": False, "update": False, "delete": False, "truncate": False}, rel
