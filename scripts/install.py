"""Install the locked dependencies into the running interpreter's virtualenv, with progress.

``make install`` runs it with ``.venv/bin/python``; it needs nothing but the standard library.

- ``requirements.lock`` pins every package (the whole tree, ``make lock`` writes it), installed
  exactly with ``--no-deps``: no resolution, no surprise release of a transitive dependency.
  ``pip check`` then verifies the tree is consistent.
- The installer is uv, at the version the lock pins (one wheel, installed first with pip): it
  downloads and byte-compiles in parallel, several times faster than pip here. When uv cannot be
  installed, or ``SINFONIA_INSTALLER=pip``, pip installs the same lock.
- Every module is byte-compiled at install (``--compile-bytecode``; pip does it by default): where
  ``PYTHONDONTWRITEBYTECODE`` is set, as on CI machines and in containers, Python never writes a
  ``.pyc`` itself and would compile every module again in every process (``import airflow.sdk``:
  3.9 s uncompiled, 1.9 s compiled; every task, dbt and test process imports it or its like).
- The installer's own output (hundreds of lines) goes to ``<venv>/pip-install.log``; the console
  gets a few progress lines (one updating line on a terminal) and, on failure, the log's tail.

``python scripts/install.py --freeze`` rewrites ``requirements.lock`` from the running virtualenv.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
HEADER = """\
# Every package of the virtualenv, pinned (written by `make lock`: pip freeze without the project).
# `make install` installs exactly these with --no-deps, then runs `pip check`. requirements.txt keeps the
# direct dependencies with their reasons; after changing it, install it into .venv and run `make lock`.
"""
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]


def locked(lock: Path) -> list[str]:
    return [line.strip() for line in lock.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


class Progress:
    """One updating line on a terminal; a line per quarter of the packages otherwise."""

    def __init__(self, total: int, stream=sys.stdout):
        self.total, self.stream, self.done, self.start = total, stream, 0, time.perf_counter()
        self.tty, self.open_line = stream.isatty(), False
        self.last = self.start
        self.marks = {max(1, round(total * q / 4)) for q in (1, 2, 3, 4)}

    def step(self, name: str) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.start
        if self.tty:
            self.stream.write(f"\r  fetching {self.done}/{self.total} {name[:40]:<40} {elapsed:5.0f} s")
            self.open_line = True
        elif self.done in self.marks:
            self.stream.write(f"  fetched {self.done}/{self.total} packages ({elapsed:.0f} s)\n")
        self.stream.flush()
        self.last = time.perf_counter()

    def say(self, text: str) -> None:
        self.stream.write(("\n" if self.open_line else "") + text + "\n")
        self.stream.flush()
        self.open_line = False
        self.last = time.perf_counter()


class Heartbeat:
    """A line every ``every`` seconds of silence naming the phase and the time so far, so that a
    long phase (uv byte-compiling some 15,000 files prints nothing for minutes) never looks stuck."""

    def __init__(self, progress: Progress, every: float = 8.0):
        self.progress, self.every, self.phase = progress, every, "starting"
        self.since = time.perf_counter()
        progress.last = self.since
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def enter(self, phase: str) -> None:
        self.phase, self.since = phase, time.perf_counter()

    def _run(self) -> None:
        while not self.stop.wait(min(1.0, self.every / 4)):
            now = time.perf_counter()
            if now - self.progress.last >= self.every:
                self.progress.say(f"  … {self.phase} ({now - self.since:.0f} s so far)")

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def _package(line: str) -> str:
    """The package a line of pip's output is about: ``Collecting NAME==V``, ``Processing
    PATH/NAME-V-….whl`` (a local file), ``Requirement already satisfied: NAME==V in …``."""
    words = line.split(":", 1)[-1].split() if line.startswith("Requirement") else line.split()[1:]
    if not words:
        return "?"
    return Path(words[0]).name.split("-")[0] if line.startswith("Processing") else words[0].split("==")[0]


def uv(lock: Path) -> str | None:
    """uv at the version the lock pins, in this virtualenv; None when the lock has none or pip
    cannot install it."""
    pin = next((p for p in locked(lock) if p.lower().startswith("uv==")), None)
    if pin is None or os.environ.get("SINFONIA_INSTALLER") == "pip":
        return None
    exe = Path(sys.prefix) / "bin" / "uv"
    wanted = pin.split("==", 1)[1]
    current = subprocess.run([exe, "--version"], capture_output=True, text=True) if exe.exists() else None
    if current is None or current.returncode != 0 or wanted not in current.stdout.split():
        proc = subprocess.run([*PIP, "install", "--quiet", "--no-deps", pin], capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"  {pin} could not be installed ({proc.stderr.strip().splitlines()[-1:]}): pip installs "
                  "the lock instead", flush=True)
            return None
    return str(exe)


def install(lock: Path, log: Path) -> float:
    """Install every package of ``lock`` (``--no-deps``); returns the seconds it took. Raises
    SystemExit with the end of the installer's log on failure."""
    packages = locked(lock)
    progress = Progress(len(packages))
    start = time.perf_counter()
    installer = uv(lock)
    progress.say(f"Installing {len(packages)} locked packages from {lock.name} with "
                 f"{'uv' if installer else 'pip'} (its log: {log})")
    if installer:
        cmd = [installer, "pip", "install", "--python", sys.executable, "--no-deps", "--compile-bytecode",
               "-r", str(lock)]
    else:
        cmd = [*PIP, "install", "--no-deps", "--progress-bar", "off", "-r", str(lock)]
    with open(log, "w", encoding="utf-8") as out, Heartbeat(progress) as beat:
        beat.enter("downloading and unpacking the packages")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "UV_NO_PROGRESS": "1"})
        for line in proc.stdout:
            out.write(line)
            if line.startswith(("Collecting ", "Processing ", "Requirement already satisfied: ")):
                progress.step(_package(line))  # pip: one line per package
            elif line.startswith("Installing collected packages"):
                progress.say(f"  unpacking into {Path(sys.prefix).name}/ and byte-compiling …")
                beat.enter("unpacking and byte-compiling")
            elif line.startswith(("Prepared ", "Installed ", "Audited ", "Bytecode compiled ")):  # uv: per phase
                progress.say(f"  {line.strip()}")
                if line.startswith("Installed "):
                    progress.say("  byte-compiling every module once (a few minutes on a slow machine; "
                                 "every later import is faster for it) …")
                    beat.enter("byte-compiling")
        code = proc.wait()
    if code != 0:
        tail = log.read_text(encoding="utf-8").strip().splitlines()[-15:]
        raise SystemExit("\n".join(["the install failed; the end of its log:", *tail, f"(whole log: {log})"]))
    return time.perf_counter() - start


def lock_text(frozen: str) -> str:
    """The lock's text from ``pip freeze``'s output: the header, then one pin a line sorted by the
    lowercased line. pip lists packages in an order that depends on how they were installed (uv
    or pip, the spelling of their metadata), so the same tree always gives the same bytes."""
    pins = sorted({line.strip() for line in frozen.splitlines() if line.strip() and not line.startswith("#")},
                  key=lambda line: (line.lower(), line))
    return HEADER + "".join(f"{pin}\n" for pin in pins)


def write_lock(lock: Path, text: str) -> bool:
    """Write ``text`` to ``lock`` unless it already holds exactly that (its time is then left as it
    was, so ``make`` does not reinstall); True when written."""
    if lock.exists() and lock.read_text(encoding="utf-8") == text:
        return False
    lock.write_text(text, encoding="utf-8")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=LOCK, help="the lock file (default requirements.lock)")
    parser.add_argument("--freeze", action="store_true",
                        help="write the lock from this virtualenv instead of installing it")
    parser.add_argument("--no-project", action="store_true",
                        help="only the locked packages, not the project itself (editable)")
    args = parser.parse_args()
    if args.freeze:
        frozen = subprocess.run([*PIP, "freeze", "--exclude-editable", "--exclude", "sinfonia"],
                                capture_output=True, text=True, check=True).stdout
        written = write_lock(args.lock, lock_text(frozen))
        print(f"{'wrote' if written else 'unchanged:'} {args.lock} ({len(locked(args.lock))} packages)")
        return 0
    seconds = install(args.lock, Path(sys.prefix) / "pip-install.log")
    if not args.no_project:
        subprocess.run([*PIP, "install", "--quiet", "--no-deps", "-e", str(ROOT)], check=True)
    check = subprocess.run([*PIP, "check"], capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit(f"pip check found inconsistent packages:\n{check.stdout.strip()}")
    print(f"  installed in {seconds:.0f} s; pip check: no broken requirements", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PIP_NO_INPUT", "1")
    sys.exit(main())
