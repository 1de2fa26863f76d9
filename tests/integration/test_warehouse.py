"""The embedded warehouse launcher: start, restart, status, stop, as root or as a user."""

import os

import psycopg
import pytest

from sinfonia.warehouse import Embedded

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    """Running, not merely an unreaped zombie (containers' init may not reap daemons)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        status = open(f"/proc/{pid}/status").read()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_start_twice_is_harmless_and_stop_leaves_nothing_running(server_dir):
    server = Embedded(server_dir / "wh")
    url = server.start()
    pid = server.pid()
    assert server.start() == url and server.pid() == pid  # second start: same server
    with psycopg.connect(url) as conn:
        assert conn.execute("select current_database()").fetchone()[0] == "sinfonia"
    assert server.stop() is True
    assert not server.running() and not _alive(pid)
    assert server.stop() is False


def test_restart_keeps_data_and_port(server_dir):
    server = Embedded(server_dir / "wh")
    url = server.start()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table kept (x int); insert into kept values (42)")
    server.stop()
    assert server.start() == url
    with psycopg.connect(url) as conn:
        assert conn.execute("select x from kept").fetchone()[0] == 42
    server.stop()


def test_url_before_first_start_is_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match="never started"):
        Embedded(tmp_path / "none").url()


def test_cli_status_and_url(state_dir):
    from tests.conftest import sinfonia

    env = {"SINFONIA_STATE_DIR": str(state_dir / "cli")}
    assert sinfonia("warehouse", "status", env=env, check=False).returncode == 3
    url = sinfonia("warehouse", "start", env=env).stdout.strip()
    try:
        assert sinfonia("warehouse", "url", env=env).stdout.strip() == url
        assert "running" in sinfonia("warehouse", "status", env=env).stdout
    finally:
        assert sinfonia("warehouse", "stop", env=env).stdout.strip() == "stopped"
