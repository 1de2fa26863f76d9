"""Generated mutants of the Python rules: mutmut over the modules of ``tests/mutation/mutmut.toml``.

``make mutants`` (not part of ``make test``). mutmut (pinned in requirements.txt) generates every
mutant of those modules and runs, for each, the tests that reach the mutated function. It runs in a
private copy of the repository, never in the checkout: the copy's ``include/`` is renamed ``src/``
(mutmut recognises ``src/`` layouts, so the tests' ``import sinfonia`` is the mutated code) and
``mutmut.toml`` is appended to the copy's ``pyproject.toml``. The score and every survivor go to
``.sinfonia/mutation/python_results.json``; ``tests/mutation/GENERATED.md`` is the reviewed record.

    python tests/mutation/python_mutants.py [--max-children N] [--keep]
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("mutmut.toml")
WORK = REPO / ".sinfonia" / "mutation"
IGNORE = shutil.ignore_patterns(".git", ".venv", ".sinfonia", "target", "logs", "docs-site", "__pycache__",
                                "*.pyc", ".pytest_cache", "mutants")


def prepare() -> Path:
    root = Path(tempfile.mkdtemp(prefix="sinfonia-mutmut-"))
    tree = root / "repo"
    shutil.copytree(REPO, tree, ignore=IGNORE, symlinks=True)
    shared = REPO.parent / "shared"
    if shared.exists():
        (root / "shared").symlink_to(shared)
    (tree / "include").rename(tree / "src")
    config = CONFIG.read_text(encoding="utf-8").replace('"include/', '"src/').replace('["include"]', '["src"]')
    pyproject = tree / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8") + "\n" + config, encoding="utf-8")
    return tree


def results(tree: Path, env: dict) -> dict[str, str]:
    """mutant name → status, from ``mutmut results --all true``."""
    proc = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=tree, env=env,
                          capture_output=True, text=True, check=True)
    out = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"\s*(\S+): (.+)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--max-children", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--keep", action="store_true", help="keep the private copy (to `mutmut browse` it)")
    args = parser.parse_args(argv)
    tree = prepare()
    # The folder mutmut writes the mutated code to must exist before Python starts: a sys.path entry
    # missing at start-up is cached as unimportable, and the tests would import the unmutated code.
    (tree / "mutants" / "src").mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(tree / "mutants" / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("WAREHOUSE_DSN", None)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children)],
                   cwd=tree, env=env, check=False)
    seconds = time.perf_counter() - started
    statuses = results(tree, env)
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    killed, survived = counts.get("killed", 0), counts.get("survived", 0)
    decided = killed + survived
    survivors = sorted(k for k, v in statuses.items() if v == "survived")
    diffs = {}
    for name in survivors:
        proc = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=tree, env=env,
                              capture_output=True, text=True)
        diffs[name] = proc.stdout.strip()
    summary = {"mutants": len(statuses), "counts": counts, "score": round(killed / decided, 4) if decided else 0.0,
               "seconds": round(seconds, 1), "survivors": diffs}
    out = WORK / "python_results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"python mutants: score {summary['score']:.0%}: {counts} in {seconds:.0f} s; {out.relative_to(REPO)}")
    for name in survivors:
        print(f"  survived: {name}")
    if not args.keep:
        shutil.rmtree(tree.parent, ignore_errors=True)
    return 0 if not survived else 1


if __name__ == "__main__":
    sys.exit(main())
