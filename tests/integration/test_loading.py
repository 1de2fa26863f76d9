"""Loads into raw: COPY, one transaction per source-period, reconciled, idempotent."""

import psycopg
import pytest

from sinfonia import db
from sinfonia.bootstrap import bootstrap
from sinfonia.ingest.extract import extract, extract_folder
from tests.unit.test_esap_asistencias import GOOD, with_, write

pytestmark = pytest.mark.integration


def test_reloading_a_period_replaces_it_and_counts_reconcile(fresh_dsn, small_sample):
    bootstrap(fresh_dsn)
    first = extract_folder("idf", small_sample, fresh_dsn)
    assert extract_folder("idf", small_sample, fresh_dsn) == []  # same bytes: nothing re-read
    second = extract(  # forced: every period replaced
        "idf", sorted((small_sample / "idf").glob("*.xlsx")), small_sample, fresh_dsn, force=True)
    assert [(r.period, r.rows_loaded) for r in first] == [(r.period, r.rows_loaded) for r in second]
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("select count(*) from raw.idf").fetchone()[0] == sum(r.rows_loaded for r in first)
        bad = conn.execute("select count(*) from meta.load_run where rows_read <> rows_loaded + rows_quarantined").fetchone()[0]
        assert bad == 0
        runs = conn.execute("select count(*) from meta.load_run where source = 'idf'").fetchone()[0]
        assert runs == len(first)
        landed = conn.execute("select count(*) from meta.landed_file where source = 'idf'").fetchone()[0]
        assert landed == len(list((small_sample / "idf").glob("*.xlsx")))


def test_quarantined_rows_name_file_row_column_and_reason(fresh_dsn, tmp_path):
    bootstrap(fresh_dsn)
    path = write(tmp_path, [GOOD, with_(ID_Asistencia="AT-2", Estado="Terminada")])
    [result] = extract("esap_asistencias", [path], None, fresh_dsn)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (2, 1, 1)
    with psycopg.connect(fresh_dsn) as conn:
        row = conn.execute("select file_name, row_number, column_name, value, reason from meta.quarantine").fetchone()
    assert row[:4] == (path.name, 3, "Estado", "Terminada") and "expected one of" in row[4]


def test_a_failed_load_leaves_the_previous_period_in_place(fresh_dsn, tmp_path, monkeypatch):
    bootstrap(fresh_dsn)
    path = write(tmp_path, [GOOD])
    extract("esap_asistencias", [path], None, fresh_dsn)
    from sinfonia.ingest import loading

    # A COPY that fails half-way (a lineage column that does not exist) must roll back the period.
    monkeypatch.setattr(loading, "LINEAGE", ("_load_id", "_period", "_file", "_row_number", "_no_such_column"))
    path2 = write(tmp_path, [GOOD, with_(ID_Asistencia="AT-3")])
    with pytest.raises(psycopg.Error):
        extract("esap_asistencias", [path2], None, fresh_dsn)
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("select count(*) from raw.esap_asistencias").fetchone()[0] == 1
        assert conn.execute("select status from meta.load_run").fetchall() == [("loaded",)]


def test_landing_the_same_bytes_twice_is_a_no_op(fresh_dsn, tmp_path):
    from sinfonia.ingest.landing import land

    bootstrap(fresh_dsn)
    path = write(tmp_path, [GOOD])
    with db.connect(fresh_dsn, autocommit=True) as conn:
        a = land(conn, "esap_asistencias", path)
        b = land(conn, "esap_asistencias", path)
        assert a.sha256 == b.sha256 and a.path == b.path and a.path.read_bytes() == path.read_bytes()
        assert conn.execute("select count(*) from meta.landed_file").fetchone()[0] == 1


def test_copy_round_trips_special_characters_and_nulls(fresh_dsn):
    from sinfonia.ingest.loading import Batch, load_batch

    bootstrap(fresh_dsn)
    values = [("a\tb", "line\nbreak", None), ("back\\slash", "\\N", "cr\r"), ("plain", "", "ñandú")]
    batch = Batch("roundtrip", "p1", ("x", "y", "z"),
                  rows=[("f\tile.csv", i + 2, *v) for i, v in enumerate(values)])
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        load_batch(conn, batch)
        got = conn.execute("select x, y, z, _file, _row_number from raw.roundtrip order by _row_number").fetchall()
    assert [g[:3] for g in got] == values
    assert {g[3] for g in got} == {"f\tile.csv"} and [g[4] for g in got] == [2, 3, 4]


def test_every_loaded_row_carries_the_time_of_its_load(fresh_dsn, tmp_path):
    """_loaded_at (the dbt sources' loaded_at_field) is the load transaction's time, also on a raw
    table created before the column existed (bootstrap adds it)."""
    bootstrap(fresh_dsn)
    with psycopg.connect(fresh_dsn) as conn:
        conn.execute("alter table raw.esap_asistencias drop column _loaded_at")
    bootstrap(fresh_dsn)
    extract("esap_asistencias", [write(tmp_path, [GOOD, with_(ID_Asistencia="AT-2")])], None, fresh_dsn)
    with psycopg.connect(fresh_dsn) as conn:
        stamps = conn.execute("select distinct _loaded_at from raw.esap_asistencias").fetchall()
        finished = conn.execute("select finished_at from meta.load_run").fetchone()[0]
    assert stamps == [(finished,)]


def test_a_file_replaced_by_a_roster_after_the_check_lands_the_bytes_checked(fresh_dsn, tmp_path, monkeypatch):
    """The intake decides on the bytes it lands: a file swapped for a roster after the folder's
    check (each file is read once, checked, and those bytes landed) lands the bytes that passed,
    never the roster: no copy of it, no meta.landed_file row for it."""
    from sinfonia import config
    from sinfonia.ingest import intake
    from sinfonia.ingest.landing import sha256_of
    from tests.corpus import roster_csv

    bootstrap(fresh_dsn)
    path = write(tmp_path, [GOOD])
    good = sha256_of(path)
    real_read_checked = intake.read_checked
    reads = []

    def check_then_swap(p, *args, **kwargs):
        data = real_read_checked(p, *args, **kwargs)
        reads.append(p)
        roster_csv(p)  # replaced after the check, before the landing
        return data

    monkeypatch.setattr(intake, "read_checked", check_then_swap)
    extract("esap_asistencias", [path], tmp_path, fresh_dsn)
    assert reads == [path]  # read and checked once
    roster = sha256_of(path)
    assert roster != good
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("select sha256 from meta.landed_file").fetchall() == [(good,)]
        assert conn.execute("select count(*) from raw.esap_asistencias").fetchone()[0] == 1
    assert (config.landing_dir() / "esap_asistencias" / good).exists()
    assert not (config.landing_dir() / "esap_asistencias" / roster).exists()


def test_a_roster_landed_again_under_a_changed_pii_key_says_so_in_its_load(fresh_dsn, tmp_path, monkeypatch):
    from sinfonia.ingest import pii
    from tests.unit.test_esap_equipos import HEADER, PEOPLE

    bootstrap(fresh_dsn)
    path = tmp_path / "equipos_2024.csv"
    path.write_text("\n".join(";".join(str(c) for c in r) for r in [HEADER, *PEOPLE[:2]]) + "\n", encoding="utf-8")
    [first] = extract("esap_equipos", [path], None, fresh_dsn)
    assert not any("SINFONIA_PII_KEY" in n for n in first.notices)
    monkeypatch.setenv(pii.KEY_ENV, "another-local-key-for-this-test")
    [again] = extract("esap_equipos", [path], None, fresh_dsn)  # new pseudonyms, new bytes: landed again
    [notice] = [n for n in again.notices if "SINFONIA_PII_KEY" in n]
    assert "is not the key that pseudonymised earlier rosters (equipos_2024.clave-" in notice
    with psycopg.connect(fresh_dsn) as conn:
        message = conn.execute("select message from meta.load_run where load_id = %s", (again.load_id,)).fetchone()[0]
    assert "SINFONIA_PII_KEY is not the key" in message
