"""The raw tables the warehouse bootstrap creates and the command line's sources are the catalogue's."""

import psycopg
import pytest

from sinfonia.bootstrap import bootstrap
from sinfonia.ingest.loading import LINEAGE
from sinfonia.ingest.sources import CATALOGUE
from tests.conftest import sinfonia

pytestmark = pytest.mark.integration


def test_bootstrap_creates_exactly_the_catalogue_tables_in_their_schemas(fresh_dsn):
    bootstrap(fresh_dsn)
    bootstrap(fresh_dsn)  # idempotent
    with psycopg.connect(fresh_dsn) as conn:
        rows = conn.execute("""select table_schema, table_name, array_agg(column_name::text order by ordinal_position)
            from information_schema.columns where table_schema in ('raw', 'restricted')
            group by 1, 2""").fetchall()
    got = {(schema, table): tuple(cols) for schema, table, cols in rows}
    expected = {(spec.schema, table): (*columns, *LINEAGE, "_loaded_at") for spec in CATALOGUE
                for table, columns in spec.tables.items()}
    assert got == expected
    assert ("restricted", "esap_equipos") in got and ("raw", "esap_equipos") not in got


def test_the_command_line_knows_exactly_the_catalogue_sources():
    proc = sinfonia("extract", "no_such_source", "--from", "nowhere", check=False)
    assert proc.returncode != 0
    known = proc.stderr.strip().splitlines()[-1].split("known: ")[1]
    assert known.split(", ") == [spec.name for spec in CATALOGUE]


def test_bootstraps_starting_at_once_on_a_new_warehouse_all_succeed(fresh_dsn):
    """Two extracts bootstrapping together used to fail with 'tuple concurrently updated'."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(bootstrap, fresh_dsn) for _ in range(4)]:
            future.result()  # raises what a bootstrap raised
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("select count(*) from information_schema.tables where table_schema = 'raw'").fetchone()[0] > 0
