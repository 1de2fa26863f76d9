"""Generated mutants of the Python rules: mutmut over the modules of ``tests/mutation/mutmut.toml``.

``make mutants`` (not part of ``make test``). mutmut (pinned in requirements.txt) generates every
mutant of those modules and runs, for each, the tests that reach the mutated function. It runs in a
private copy of the repository, never in the checkout: the copy's ``include/`` is renamed ``src/``
(mutmut recognises ``src/`` layouts, so the tests' ``import sinfonia`` is the mutated code) and
``mutmut.toml`` is appended to the copy's ``pyproject.toml``. The score and every survivor go to
``.sinfonia/mutation/python_results.json``; ``tests/mutation/GENERATED.md`` is the reviewed record.

    python tests/mutation/python_mutants.py [--max-children N] [--only PATH[,PATH]] [--mutants NAME …] [--keep]

``--only`` mutates only some of the configured modules (one at a time on a busy machine); the
integration tests of the selection (a throwaway database each, seconds) use the server named by
``SINFONIA_TEST_DSN`` when it is set, which spares each mutant's run an embedded server's start.
``--mutants`` runs only the mutants named (mutmut's names or ``fnmatch`` patterns, such as
``'sinfonia.roles.x_analyst_limits__mutmut_*'``): the rest of a run cut short, or the survivors after
new tests; the others are reported ``not checked``.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("mutmut.toml")
WORK = REPO / ".sinfonia" / "mutation"
IGNORE = shutil.ignore_patterns(".git", ".venv", ".sinfonia", "target", "logs", "docs-site", "__pycache__",
                                "*.pyc", ".pytest_cache", "mutants")


def select(config: str, only: list[str] | None = None) -> str:
    """``config`` for this run: ``only_mutate`` narrowed to ``only`` (paths as listed there) when
    given, and the test selection made of the tests of the modules mutated: a module listed in
    ``[tool.sinfonia_mutation.tests]`` brings its own, any other the common selection."""
    parsed = tomllib.loads(config)
    listed = parsed["tool"]["mutmut"]["only_mutate"]
    common = parsed["tool"]["mutmut"]["pytest_add_cli_args_test_selection"]
    own = parsed.get("tool", {}).get("sinfonia_mutation", {}).get("tests", {})
    unknown = [o for o in only or () if o not in listed]
    if unknown:
        raise SystemExit(f"not in mutmut.toml's only_mutate: {', '.join(unknown)}; listed: {', '.join(listed)}")
    modules = only or listed
    config = re.sub(r"only_mutate = \[.*?\]", lambda _: "only_mutate = " + json.dumps(modules), config, count=1,
                    flags=re.DOTALL)
    tests = [t for m in modules for t in own.get(m, common)]
    tests = list(dict.fromkeys(tests))  # once each, in order
    return re.sub(r"pytest_add_cli_args_test_selection = \[.*?\]",
                  lambda _: "pytest_add_cli_args_test_selection = " + json.dumps(tests), config, count=1,
                  flags=re.DOTALL)


def prepare(only: list[str] | None = None) -> Path:
    root = Path(tempfile.mkdtemp(prefix="sinfonia-mutmut-"))
    tree = root / "repo"
    shutil.copytree(REPO, tree, ignore=IGNORE, symlinks=True)
    shared = REPO.parent / "shared"
    if shared.exists():
        (root / "shared").symlink_to(shared)
    (tree / "include").rename(tree / "src")
    config = select(CONFIG.read_text(encoding="utf-8"), only)
    config = config.replace('"include/', '"src/').replace('["include"]', '["src"]')
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
    parser.add_argument("--only", help="comma-separated paths of mutmut.toml's only_mutate to mutate (default: all)")
    parser.add_argument("--mutants", nargs="+", default=[],
                        help="only these mutants (names or fnmatch patterns, as `mutmut run` takes them)")
    parser.add_argument("--keep", action="store_true", help="keep the private copy (to `mutmut browse` it)")
    args = parser.parse_args(argv)
    only = args.only.split(",") if args.only else None
    tree = prepare(only)
    # The folder mutmut writes the mutated code to must exist before Python starts: a sys.path entry
    # missing at start-up is cached as unimportable, and the tests would import the unmutated code.
    (tree / "mutants" / "src").mkdir(parents=True)
    # The tests run in mutants/ and the package finds the project beside itself (config.ROOT): the
    # folders mutmut does not copy (dbt_project, expectations, …) are linked there, and the shared
    # reference folder beside it, as beside the checkout.
    for entry in tree.iterdir():
        if entry.name not in {"src", "tests", "mutants", "pyproject.toml", "setup.cfg"}:
            (tree / "mutants" / entry.name).symlink_to(entry)
    if (tree.parent / "shared").exists():
        (tree / "shared").symlink_to(tree.parent / "shared")
    env = {**os.environ, "PYTHONPATH": str(tree / "mutants" / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("WAREHOUSE_DSN", None)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children), *args.mutants],
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
    summary = {"modules": only or "all", "selected": args.mutants or "all", "mutants": len(statuses), "counts": counts, "score": round(killed / decided, 4) if decided else 0.0,
               "seconds": round(seconds, 1), "survivors": diffs}
    out = WORK / (("python_results.json" if not only else
                   "python_results_" + "_".join(Path(o).stem for o in only) + ".json")
                  .replace(".json", "_selected.json" if args.mutants else ".json"))
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
