"""The warehouse address: one function (``warehouse.address``), every libpq parameter kept, read in
the documented order, and handed to dbt whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from sinfonia import dbt, warehouse

SINFONIA = Path(sys.executable).with_name("sinfonia")
SECRET = "pa" + "ss@:/word"  # built, so that no literal password sits in the repository (test_no_secrets)


def _tls_url(password: str = "p") -> str:
    return ("postgresql://u:" + password + "@db.example:6543/wh?sslmode=verify-full&sslrootcert=%2Fetc%2Froot.crt"
            "&options=-c%20search_path%3Dmarts%20-c%20statement_timeout%3D5s&target_session_attrs=read-write")


@pytest.fixture
def clean(monkeypatch, tmp_path):
    monkeypatch.delenv(warehouse.DSN_ENV, raising=False)
    monkeypatch.delenv(warehouse.CONN_ENV, raising=False)
    monkeypatch.setenv("SINFONIA_STATE_DIR", str(tmp_path / "state"))
    return monkeypatch


def test_warehouse_dsn_is_kept_whole_with_every_parameter(clean):
    clean.setenv(warehouse.DSN_ENV, _tls_url())
    where = warehouse.address()
    assert where.url == _tls_url() and where.origin == "WAREHOUSE_DSN" and where.configured
    info = conninfo_to_dict(where.url)
    assert info["sslmode"] == "verify-full" and info["sslrootcert"] == "/etc/root.crt"
    assert info["options"] == "-c search_path=marts -c statement_timeout=5s"
    assert info["target_session_attrs"] == "read-write"


def test_the_airflow_connection_keeps_its_extras_as_libpq_parameters(clean):
    conn = {"conn_type": "postgres", "host": "db.example", "port": 6543, "login": "u", "password": SECRET,
            "schema": "wh", "extra": {"sslmode": "require", "sslrootcert": "/etc/root.crt",
                                      "options": "-c statement_timeout=5s", "cursor": "dictcursor"}}
    clean.setenv(warehouse.CONN_ENV, json.dumps(conn))
    where = warehouse.address()
    assert where.origin == warehouse.AIRFLOW_CONNECTION
    info = conninfo_to_dict(where.url)
    assert info == {"host": "db.example", "port": "6543", "user": "u", "password": SECRET, "dbname": "wh",
                    "sslmode": "require", "sslrootcert": "/etc/root.crt", "options": "-c statement_timeout=5s"}


def test_the_airflow_connection_as_a_url_keeps_its_query(clean):
    clean.setenv(warehouse.CONN_ENV, "postgresql://u:" + SECRET.replace("@", "%40").replace("/", "%2F").replace(":", "%3A")
                 + "@db.example:6543/wh?sslmode=require&application_name=x")
    info = conninfo_to_dict(warehouse.dsn())
    assert (info["sslmode"], info["application_name"], info["port"]) == ("require", "x", "6543")


def test_warehouse_dsn_comes_before_the_connection_and_the_connection_before_the_embedded_server(clean):
    assert warehouse.configured() is None  # nothing set: the embedded server
    with pytest.raises(warehouse.WarehouseError, match="never started"):
        warehouse.dsn()  # its URL needs a first start; nothing is started here
    clean.setenv(warehouse.CONN_ENV, "postgresql://conn@h1:1/a")
    assert warehouse.dsn() == "postgresql://conn@h1:1/a"
    clean.setenv(warehouse.DSN_ENV, "postgresql://env@h2:2/b")
    assert warehouse.dsn() == "postgresql://env@h2:2/b"


def test_an_extra_that_is_not_a_libpq_parameter_is_refused_not_dropped(clean):
    clean.setenv(warehouse.CONN_ENV, json.dumps({"conn_type": "postgres", "host": "h", "extra": {"sslmod": "require"}}))
    with pytest.raises(warehouse.AddressError, match="extra sslmod is not a libpq parameter"):
        warehouse.dsn()


@pytest.mark.parametrize("bad", ["postgresql://u:" + SECRET + "@h/db?sslmod=require", "not an address",
                                 "host=h port"])
def test_a_bad_warehouse_dsn_is_named_without_its_password(clean, bad):
    clean.setenv(warehouse.DSN_ENV, bad)
    with pytest.raises(warehouse.AddressError) as caught:
        warehouse.dsn()
    assert str(caught.value).startswith("WAREHOUSE_DSN is not a PostgreSQL address")
    assert SECRET not in str(caught.value)


def test_the_command_line_names_a_bad_warehouse_dsn_in_one_line(tmp_path):
    env = {**os.environ, "SINFONIA_STATE_DIR": str(tmp_path / "state"),
           "WAREHOUSE_DSN": "postgresql://u:" + SECRET + "@h/db?sslmod=require"}
    env.pop(warehouse.CONN_ENV, None)
    proc = subprocess.run([str(SINFONIA), "build"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and SECRET not in proc.stderr
    assert proc.stderr.strip().splitlines()[0].startswith(
        "sinfonia build: error: WAREHOUSE_DSN is not a PostgreSQL address (invalid URI query parameter")


def test_dbt_gets_every_parameter_in_its_profile_or_its_private_service(clean):
    clean.setenv("PGSERVICE", "before")
    url = _tls_url(SECRET.replace("@", "%40").replace(":", "%3A").replace("/", "%2F"))
    with dbt.connection(url) as folder:
        profile = json.loads((folder / "profiles.yml").read_text())["sinfonia"]["outputs"]["warehouse"]
        service = (folder / "pg_service.conf").read_text().splitlines()
        assert os.environ["PGSERVICE"] == "sinfonia" and os.environ["PGSERVICEFILE"] == str(folder / "pg_service.conf")
        assert oct((folder / "pg_service.conf").stat().st_mode & 0o777) == oct(0o600)
    assert os.environ["PGSERVICE"] == "before" and "PGSERVICEFILE" not in os.environ and not folder.exists()
    assert (profile["host"], profile["port"], profile["password"], profile["dbname"]) == ("db.example", 6543, SECRET, "wh")
    assert (profile["sslmode"], profile["sslrootcert"]) == ("verify-full", "/etc/root.crt")
    assert service[0] == "[sinfonia]" and "target_session_attrs=read-write" in service
    options = next(line for line in service if line.startswith("options="))
    # the pipeline's limits first, the address's own last (libpq: the last -c of a setting wins)
    assert options.startswith("options=-c lock_timeout=") and options.endswith(
        "-c search_path=marts -c statement_timeout=5s")
