"""A municipality code is known when any loaded DIVIPOLA edition lists it (sinfonia.ingest.extract).

Seconds: one empty database with only ``raw.divipola`` (two editions), no pipeline run. An entity
gone from the newest edition (94663 Mapiripana after 2019) is still known, because facts of the
years it existed refer to it; a code in no edition is quarantined with the editions named.
"""

from __future__ import annotations

import psycopg
import pytest

from sinfonia.ingest import extract
from sinfonia.ingest.loading import Batch

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_editions(server_dsn):
    from tests.conftest import throwaway_database

    with throwaway_database(server_dsn, "codes") as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("create schema raw")
            conn.execute("create table raw.divipola (_period text, municipality_code text, "
                         "department_name text, municipality_name text)")
            conn.execute("insert into raw.divipola values "
                         "('2019', '94663', 'GUAINÍA', 'MAPIRIPANA'), ('2019', '05001', 'ANTIOQUIA', 'MEDELLÍN'), "
                         "('2024', '05001', 'ANTIOQUIA', 'MEDELLÍN'), ('2024', '05002', 'ANTIOQUIA', 'ABEJORRAL')")
        with psycopg.connect(dsn) as conn:
            yield conn


def test_a_code_listed_only_by_an_older_edition_is_known(two_editions):
    codes, editions = extract.divipola_codes(two_editions)
    assert codes == {"94663", "05001", "05002"}
    assert editions == ["2019", "2024"]


def test_rows_with_a_code_of_any_edition_are_kept_and_a_code_of_none_is_quarantined(two_editions):
    batch = Batch("mdm", "2024", ("municipality_code", "mdm"))
    batch.rows = [("f.xlsx", 2, "94663", "40"), ("f.xlsx", 3, "05002", "50"), ("f.xlsx", 4, "99999", "60")]
    extract.quarantine_unresolved(batch, "municipality_code", extract.divipola_codes(two_editions))
    assert [r[2] for r in batch.rows] == ["94663", "05002"]
    (rejected,) = batch.rejected
    assert (rejected.row_number, rejected.value) == (4, "99999")
    assert "in no edition of raw.divipola: 2019, 2024" in rejected.reason


def test_without_divipola_loaded_nothing_is_known(server_dsn):
    from tests.conftest import throwaway_database

    with throwaway_database(server_dsn, "codes") as dsn, psycopg.connect(dsn) as conn:
        assert extract.divipola_codes(conn) is None
        conn.execute("create schema raw")
        conn.execute("create table raw.divipola (_period text, municipality_code text)")
        assert extract.divipola_codes(conn) is None
