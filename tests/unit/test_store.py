"""SINFONIA_STORE_URL: where the landing zone and the failed tasks' records live (sinfonia.config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sinfonia import config
from sinfonia.config import Store, parse_store_url


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SINFONIA_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("SINFONIA_STORE_URL", raising=False)
    return tmp_path.resolve()


def test_the_default_store_is_the_state_folder(state):
    assert config.store() == Store("file", path=str(state))
    root = config.landing_root()
    assert root.protocol == "file" and Path(root.path) == state / "landing"
    assert config.landing_dir() == state / "landing"  # the landing zone where it always was
    assert config.store().url == f"file://{state}"


def test_an_empty_setting_is_the_default(state, monkeypatch):
    monkeypatch.setenv("SINFONIA_STORE_URL", "  ")
    assert config.store() == Store("file", path=str(state))


def test_a_file_url_names_a_local_folder(state, monkeypatch, tmp_path):
    monkeypatch.setenv("SINFONIA_STORE_URL", f"file://{tmp_path}/shared/")
    assert config.store() == Store("file", path=str(tmp_path / "shared"))
    assert config.landing_dir() == tmp_path / "shared" / "landing"
    assert Path(config.landing_root().path) == tmp_path / "shared" / "landing"


@pytest.mark.parametrize(("url", "expected"), [
    ("s3://sinfonia_store@esap-datos/sinfonia/prod/",
     Store("s3", bucket="esap-datos", prefix="sinfonia/prod", conn_id="sinfonia_store")),
    ("s3://esap-datos", Store("s3", bucket="esap-datos")),
    ("S3://esap-datos/a", Store("s3", bucket="esap-datos", prefix="a")),
])
def test_s3_urls_give_bucket_prefix_and_connection(url, expected):
    assert parse_store_url(url) == expected
    assert expected.url.startswith("s3://esap-datos") and "@" not in expected.url  # no conn id in messages


def test_an_s3_store_is_an_object_storage_path_with_the_connection(state, monkeypatch):
    # A connection of its own: Airflow keeps one store per protocol and connection for the life of
    # the process, and the integration tests on this worker use theirs on a live S3 server.
    monkeypatch.setenv("SINFONIA_STORE_URL", "s3://unit_store@esap-datos/sinfonia")
    # the connection is resolved when the path is built; a local endpoint, never contacted here
    monkeypatch.setenv("AIRFLOW_CONN_UNIT_STORE",
                       '{"conn_type": "aws", "login": "k", "password": "s", '
                       '"extra": {"endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1"}}')
    root = config.landing_root()
    assert type(root).__name__ == "ObjectStoragePath"
    assert (root.protocol, root.conn_id, root.bucket, root.key) == ("s3", "unit_store", "esap-datos",
                                                                    "sinfonia/landing")
    with pytest.raises(ValueError, match="not a local folder"):
        config.landing_dir()
    assert config.landing_cache_dir() == state / "landing-cache"


@pytest.mark.parametrize(("url", "why"), [
    ("/srv/sinfonia", "it has no scheme"),
    ("http://example.org/bucket", "scheme 'http' is not supported"),
    ("gs://bucket/prefix", "scheme 'gs' is not supported"),
    ("file://relative/folder", "not an absolute local folder"),
    ("file:relative", "not an absolute local folder"),
    ("s3://", "no bucket"),
    ("s3://conn@", "no bucket"),
    ("s3://@bucket", "an empty connection id"),
    ("s3://conn" + ":x@bucket/p", "credentials do not go in the URL"),  # (split: not a secret)
    ("s3://bucket/p?region=x", "a query or fragment is not allowed"),
])
def test_a_bad_url_is_a_clear_error_naming_the_setting(url, why):
    with pytest.raises(ValueError) as raised:
        parse_store_url(url)
    message = str(raised.value)
    assert message.startswith(f"SINFONIA_STORE_URL={url!r}: {why}"), message
    assert "expected file:///absolute/folder or s3://[conn_id@]bucket[/prefix]" in message


def test_a_bad_url_fails_where_the_store_is_used(state, monkeypatch):
    monkeypatch.setenv("SINFONIA_STORE_URL", "ftp://host/landing")
    with pytest.raises(ValueError, match="SINFONIA_STORE_URL='ftp://host/landing'"):
        config.landing_root()
