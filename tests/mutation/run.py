"""Mutation testing: plant each small bug listed in ``mutants.toml`` and check the tests catch it.

``make mutants`` (not part of ``make test``). Each mutant names a file, a piece of text that must
occur in it exactly once, its replacement, and the tests that cover the behaviour (pytest node ids
or ``-k`` expressions, declared beside the mutant). For each mutant the harness copies the file's
text, writes the mutated text into a private copy of the repository (never into your checkout: an
interrupted run cannot leave a bug behind), runs the declared tests there, and restores the file.

A mutant is *killed* when at least one declared test fails, *survived* when they all pass,
*stale* when its text is no longer in the file (the code moved on: update the mutant), and
*timeout* when its tests run past the limit, *error* when they could not run (a fixture or
collection error, not a failed assertion: that kills nothing). The score is killed / (killed +
survived); the results, with the survivors, go to ``.sinfonia/mutation/results.json``.

    python tests/mutation/run.py [--only ID[,ID]] [--area AREA] [--timeout S] [--list]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import re
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MUTANTS = Path(__file__).with_name("mutants.toml")
WORK = REPO / ".sinfonia" / "mutation"
IGNORE = shutil.ignore_patterns(".git", ".venv", ".sinfonia", "target", "logs", "docs-site", "__pycache__",
                                "*.pyc", "report", ".pytest_cache")


@dataclass
class Mutant:
    id: str
    area: str
    file: str
    find: str
    replace: str
    tests: list[str]
    why: str = ""
    status: str = "pending"
    seconds: float = 0.0
    detail: str = field(default="", repr=False)


def load(path: Path = MUTANTS) -> list[Mutant]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    mutants = [Mutant(**entry) for entry in data["mutant"]]
    seen: set[str] = set()
    for m in mutants:
        if m.id in seen:
            raise SystemExit(f"{path.name}: mutant id {m.id!r} appears twice")
        seen.add(m.id)
        if not m.tests:
            raise SystemExit(f"{path.name}: mutant {m.id} declares no tests")
    return mutants


def copy_tree() -> Path:
    """A private copy of the repository (sources only) with ``../shared`` reachable beside it.

    It lives under a short temporary path: the tests' embedded PostgreSQL puts its Unix socket in
    its data folder, and a socket path over 107 characters keeps the server from starting. The
    folder is opened to every user, because PostgreSQL runs as an unprivileged one."""
    root = Path(tempfile.mkdtemp(prefix="sinfonia-mutants-"))
    root.chmod(0o755)
    dest = root / "repo"
    shutil.copytree(REPO, dest, ignore=IGNORE, symlinks=True)
    shared = REPO.parent / "shared"
    if shared.exists():
        (root / "shared").symlink_to(shared)
    return dest


def pytest_args(tests: list[str]) -> list[str]:
    """Node ids (``path::name``) and paths as they are; anything else is a ``-k`` expression."""
    paths = [t for t in tests if "::" in t or t.endswith(".py") or t.startswith("tests/")]
    keywords = [t for t in tests if t not in paths]
    args = list(paths) or ["tests"]
    if keywords:
        args += ["-k", " or ".join(f"({k})" for k in keywords)]
    return args


def run_one(m: Mutant, tree: Path, timeout: float) -> Mutant:
    target = tree / m.file
    if not target.exists():
        m.status, m.detail = "stale", f"{m.file} does not exist"
        return m
    original = target.read_text(encoding="utf-8")
    count = original.count(m.find)
    if count != 1:
        m.status, m.detail = "stale", f"text to mutate found {count} times in {m.file} (expected once)"
        return m
    target.write_text(original.replace(m.find, m.replace), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tree / "include"), "PYTHONDONTWRITEBYTECODE": "1",
           "SINFONIA_STATE_DIR": str(tree / ".sinfonia")}
    env.pop("WAREHOUSE_DSN", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "--no-header",
           "-o", "addopts=", *pytest_args(m.tests)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        m.detail = " | ".join(tail)
        summary = tail[-1] if tail else ""
        if proc.returncode == 0:
            m.status = "survived"
        elif proc.returncode == 5:
            m.status, m.detail = "stale", "the declared tests select nothing: " + m.detail
        elif proc.returncode == 1 and re.search(r"\d+ failed", summary):
            m.status = "killed"
        else:  # errors only (a fixture that could not start, a collection error): nothing was tested
            m.status = "error"
    except subprocess.TimeoutExpired:
        m.status, m.detail = "timeout", f"tests ran past {timeout:.0f} s"
    finally:
        target.write_text(original, encoding="utf-8")
        dbt_target = tree / "dbt_project" / "target"
        shutil.rmtree(dbt_target, ignore_errors=True)  # the next mutant re-parses the project
    m.seconds = time.perf_counter() - start
    return m


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Plant each mutant of mutants.toml and run the tests that cover it.")
    parser.add_argument("--only", help="comma-separated mutant ids")
    parser.add_argument("--area", help="only the mutants of this area")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per mutant's tests (default 900)")
    parser.add_argument("--list", action="store_true", help="list the mutants and whether their text is found")
    args = parser.parse_args(argv)

    mutants = load()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {m.id for m in mutants}
        if unknown:
            raise SystemExit(f"unknown mutant ids: {', '.join(sorted(unknown))}")
        mutants = [m for m in mutants if m.id in wanted]
    if args.area:
        mutants = [m for m in mutants if m.area == args.area]
    if args.list:
        for m in mutants:
            text = (REPO / m.file).read_text(encoding="utf-8") if (REPO / m.file).exists() else ""
            print(f"{m.id:40} {m.area:16} found {text.count(m.find)}x  {m.file}")
        return 0

    tree = copy_tree()
    started = time.perf_counter()
    for i, m in enumerate(mutants, 1):
        print(f"[{i}/{len(mutants)}] {m.id} ({m.area}) …", flush=True)
        run_one(m, tree, args.timeout)
        print(f"    {m.status} in {m.seconds:.0f} s{': ' + m.detail if m.status != 'killed' else ''}", flush=True)
    killed = sum(m.status == "killed" for m in mutants)
    survived = [m for m in mutants if m.status == "survived"]
    decided = killed + len(survived)
    score = killed / decided if decided else 0.0
    result = {
        "mutants": len(mutants), "killed": killed, "survived": len(survived),
        "stale": sum(m.status == "stale" for m in mutants), "timeout": sum(m.status == "timeout" for m in mutants),
        "error": sum(m.status == "error" for m in mutants),
        "score": round(score, 4), "seconds": round(time.perf_counter() - started, 1),
        "survivors": [{"id": m.id, "area": m.area, "file": m.file, "why": m.why} for m in survived],
        "results": [{"id": m.id, "area": m.area, "status": m.status, "seconds": round(m.seconds, 1),
                     "detail": m.detail} for m in mutants],
    }
    out = WORK / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"score {score:.0%}: {killed} killed, {len(survived)} survived, {result['stale']} stale, "
          f"{result['timeout']} timeout, {result['error']} error; {out.relative_to(REPO)}")
    for m in survived:
        print(f"  survived: {m.id} ({m.area}, {m.file})")
    shutil.rmtree(tree.parent, ignore_errors=True)
    return 0 if not survived and not (result["stale"] or result["error"]) else 1


if __name__ == "__main__":
    sys.exit(main())
