"""The locked install: requirements.lock pins the whole tree and agrees with requirements.txt."""

from __future__ import annotations

import importlib.util
import io
import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("install_script", REPO / "scripts" / "install.py")
install = importlib.util.module_from_spec(spec)
spec.loader.exec_module(install)


def _pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            [spec_] = req.specifier
            out[canonicalize_name(req.name)] = spec_.version
    return out


def test_every_line_of_the_lock_is_one_exact_pin_and_the_project_is_not_in_it():
    lines = install.locked(REPO / "requirements.lock")
    bad = [line for line in lines if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[^=\s;]+", line)]
    assert not bad, f"lines of requirements.lock that are not NAME==VERSION: {bad}"
    names = [canonicalize_name(line.split("==")[0]) for line in lines]
    assert len(names) == len(set(names)), "a package is pinned twice"
    assert "sinfonia" not in names


def test_every_direct_requirement_is_locked_at_its_pinned_version():
    direct, locked = _pins(REPO / "requirements.txt"), _pins(REPO / "requirements.lock")
    wrong = {name: (version, locked.get(name)) for name, version in direct.items() if locked.get(name) != version}
    assert not wrong, f"requirements.txt and requirements.lock disagree (run `make lock`): {wrong}"
    for tool in ("ruff", "sqlfluff", "uv", "pytest"):  # the tools make test and make install use
        assert tool in locked


def test_the_package_name_is_read_from_each_kind_of_installer_line():
    assert install._package("Collecting apache-airflow==3.3.2\n") == "apache-airflow"
    assert install._package("Processing /srv/files/pandas-3.1.1-cp311-cp311-manylinux.whl\n") == "pandas"
    assert install._package("Requirement already satisfied: ruff==0.14.14 in ./.venv/lib\n") == "ruff"


def test_progress_off_a_terminal_prints_a_line_per_quarter():
    stream = io.StringIO()
    progress = install.Progress(222, stream)
    for _ in range(222):
        progress.step("pkg")
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["56/222", "111/222", "166/222", "222/222"]
