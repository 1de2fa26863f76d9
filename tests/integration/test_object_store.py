"""The landing zone and the failure records on a real S3-compatible server (moto's server mode on
loopback): a file landed from one state folder is parsed from another that shares no disk with it."""

from __future__ import annotations

import psycopg
import pytest

from sinfonia import tasks
from sinfonia.bootstrap import bootstrap
from sinfonia.ingest.extract import discover, land_files, load_landed
from sinfonia.ingest.landing import LandedFile

pytestmark = pytest.mark.integration


@pytest.fixture
def on_s3(s3_server, monkeypatch, tmp_path, request):
    prefix = f"t-{request.node.name[:40]}"
    for key, value in s3_server.env(prefix).items():
        monkeypatch.setenv(key, value)
    return prefix


def test_a_file_landed_on_one_machine_is_parsed_on_another(s3_server, on_s3, fresh_dsn, small_sample,
                                                           tmp_path, monkeypatch):
    bootstrap(fresh_dsn)
    paths = discover(small_sample, "divipola")
    monkeypatch.setenv("SINFONIA_STATE_DIR", str(tmp_path / "worker-a"))
    records = [f.record() for f in land_files("divipola", paths, small_sample, fresh_dsn)]

    keys = s3_server.keys(f"{on_s3}/landing/")
    assert keys == sorted(f"{on_s3}/landing/divipola/{r['sha256']}/{r['file_name']}" for r in records)
    assert not (tmp_path / "worker-a" / "landing").exists()  # nothing landed on the local disk
    with psycopg.connect(fresh_dsn) as conn:
        stored = {r[0] for r in conn.execute("select stored_path from meta.landed_file")}
    assert stored == {k.removeprefix(f"{on_s3}/landing/") for k in keys}

    monkeypatch.setenv("SINFONIA_STATE_DIR", str(tmp_path / "worker-b"))  # another machine's folders
    landed = [LandedFile.from_record(r) for r in records]
    assert all(f.path.is_relative_to(tmp_path / "worker-b" / "landing-cache") for f in landed)
    results = load_landed("divipola", landed, fresh_dsn)
    assert sum(r.rows_loaded for r in results) > 0 and all(r.rows_quarantined == 0 for r in results)
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("select count(*) from raw.divipola").fetchone()[0] == sum(r.rows_loaded for r in results)


def test_an_object_changed_after_landing_is_refused_naming_it(s3_server, on_s3, fresh_dsn, small_sample,
                                                              tmp_path, monkeypatch):
    bootstrap(fresh_dsn)
    monkeypatch.setenv("SINFONIA_STATE_DIR", str(tmp_path / "worker-a"))
    [record, *_] = [f.record() for f in land_files("divipola", discover(small_sample, "divipola"),
                                                   small_sample, fresh_dsn)]
    key = f"{on_s3}/landing/divipola/{record['sha256']}/{record['file_name']}"
    s3_server.client().put_object(Bucket=s3_server.bucket, Key=key, Body=b"[]")
    monkeypatch.setenv("SINFONIA_STATE_DIR", str(tmp_path / "worker-b"))
    with pytest.raises(ValueError, match=f"divipola/{record['sha256']}/{record['file_name']}.*the object was changed"):
        LandedFile.from_record(record)
    assert not (tmp_path / "worker-b" / "landing-cache" / "divipola" / record["sha256"] / record["file_name"]).exists()


def test_failure_records_are_kept_on_the_store(s3_server, on_s3, monkeypatch, tmp_path):
    monkeypatch.setenv("SINFONIA_STATE_DIR", str(tmp_path / "worker-a"))

    class TI:
        dag_id, task_id = "sinfonia_extract", "extract_idf"

    run_id = "manual__2025-01-01T00:00:00+00:00"
    tasks.record_failure({"ti": TI(), "run_id": run_id, "exception": ValueError("bad IDF workbook")})
    monkeypatch.setenv("SINFONIA_STATE_DIR", str(tmp_path / "cli"))
    assert tasks.failures("sinfonia_extract", run_id) == [
        {"dag_id": "sinfonia_extract", "task_id": "extract_idf", "run_id": run_id, "error": "bad IDF workbook"}]
    assert tasks.failures("sinfonia_extract", "another-run") == []
    assert len(s3_server.keys(f"{on_s3}/failures/sinfonia_extract/")) == 1
