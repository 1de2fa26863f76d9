"""Mutation testing: plant each small bug listed in ``mutants.toml`` and check the tests catch it.

``make mutants`` (not part of ``make test``). Each mutant names a file, a piece of text that must
occur in it exactly once, its replacement, and the tests that cover the behaviour (pytest paths or
node ids, ``path -k EXPR``, or bare ``-k`` expressions, declared beside the mutant). For each mutant the harness copies the file's
text, writes the mutated text into a private copy of the repository (never into your checkout: an
interrupted run cannot leave a bug behind), runs the declared tests there, and restores the file.

Before anything runs, every selected mutant must apply (its file exists and its text occurs in it
exactly once): otherwise the run (and ``--list``) exits 1 naming each one, since a mutant whose
text is gone tests nothing and would otherwise go unseen.

A mutant is *killed* when at least one declared test fails, *survived* when they all pass,
*stale* when its text is no longer in the file (the code moved on: update the mutant), and
*timeout* when its tests run past the limit, *error* when they could not run on the code as it
is either (a test that errors on the mutant but passes on the code has caught it). The score is killed / (killed +
survived); the results, with the survivors, go to ``.sinfonia/mutation/results.json``.

    python tests/mutation/run.py [--only ID[,ID]] [--area AREA] [--timeout S] [--list]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
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
                                "*.pyc", ".pytest_cache")


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


def load(path: Path | None = None) -> list[Mutant]:
    path = path or MUTANTS
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


def inapplicable(mutants: list[Mutant], root: Path = REPO) -> list[tuple[Mutant, str]]:
    """The mutants whose text no longer applies: their file is gone, or their ``find`` is not in it
    exactly once (the code moved on: the mutant would test nothing). Each with the reason."""
    out = []
    for m in mutants:
        path = root / m.file
        if not path.exists():
            out.append((m, f"{m.file} does not exist"))
            continue
        count = path.read_text(encoding="utf-8").count(m.find)
        if count != 1:
            out.append((m, f"text to mutate found {count} times in {m.file} (expected once)"))
    return out


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


def pytest_args(tests: list[str]) -> list[list[str]]:
    """One pytest selection per declared test: a path or node id (``path::name``), ``path -k
    EXPR``, or a bare ``-k`` expression over the whole suite."""
    out = []
    for t in tests:
        path, _, expr = t.partition(" -k ")
        if "::" in path or path.endswith(".py") or path.startswith("tests/"):
            out.append([path.strip(), *(["-k", expr.strip()] if expr else [])])
        else:
            out.append(["tests", "-k", t])
    return out


def run_tests(m: Mutant, tree: Path, timeout: float) -> tuple[str, str]:
    """(outcome, detail) of the mutant's declared tests in ``tree``: ``passed``, ``failed`` (an
    assertion failed), ``error`` (they could not run), ``empty`` (they select nothing)."""
    env = {**os.environ, "PYTHONPATH": str(tree / "include"), "PYTHONDONTWRITEBYTECODE": "1",
           "SINFONIA_STATE_DIR": str(tree / ".sinfonia")}
    env.pop("WAREHOUSE_DSN", None)
    details = []
    deadline = time.monotonic() + timeout
    for selection in pytest_args(m.tests):
        cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "--no-header",
               "-o", "addopts=", *selection]
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True,
                              timeout=max(1.0, deadline - time.monotonic()))
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        summary = tail[-1] if tail else ""
        details.append(" | ".join(tail))
        if proc.returncode == 1 and re.search(r"\d+ failed", summary):
            return "failed", details[-1]
        if proc.returncode == 5:
            return "empty", details[-1]
        if proc.returncode != 0:
            return "error", details[-1]
    return "passed", details[-1] if details else ""


# Outcome of each declared set of tests on the code as it is, run only when a mutant's tests error.
BASELINE: dict[tuple[str, ...], tuple[str, str]] = {}


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
    start = time.perf_counter()
    try:
        outcome, m.detail = run_tests(m, tree, timeout)
    except subprocess.TimeoutExpired:
        outcome, m.detail = "timeout", f"tests ran past {timeout:.0f} s"
    finally:
        target.write_text(original, encoding="utf-8")
        shutil.rmtree(tree / "dbt_project" / "target", ignore_errors=True)  # the next run re-parses
    if outcome == "error":
        # A test that errors on the mutant counts as catching it only if it runs on the code as it is.
        key = tuple(m.tests)
        if key not in BASELINE:
            try:
                BASELINE[key] = run_tests(m, tree, timeout)
            except subprocess.TimeoutExpired:
                BASELINE[key] = ("timeout", "")
            shutil.rmtree(tree / "dbt_project" / "target", ignore_errors=True)
        if BASELINE[key][0] == "passed":
            outcome = "failed"
            m.detail = "the tests error on the mutant and pass on the code: " + m.detail
        else:
            m.detail = f"the tests do not run on the code either ({BASELINE[key][1]})"
    m.status = {"failed": "killed", "passed": "survived", "empty": "stale", "error": "error",
                "timeout": "timeout"}[outcome]
    if outcome == "empty":
        m.detail = "the declared tests select nothing: " + m.detail
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
    stale = inapplicable(mutants)
    if args.list:
        for m in mutants:
            text = (REPO / m.file).read_text(encoding="utf-8") if (REPO / m.file).exists() else ""
            print(f"{m.id:40} {m.area:16} found {text.count(m.find)}x  {m.file}")
    if stale:
        # A mutant that no longer applies tests nothing: refuse before spending minutes on the rest.
        print(f"{len(stale)} mutant(s) no longer apply (update or remove them in {MUTANTS.name}):", file=sys.stderr)
        for m, reason in stale:
            print(f"  {m.id}: {reason}", file=sys.stderr)
        return 1
    if args.list:
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
