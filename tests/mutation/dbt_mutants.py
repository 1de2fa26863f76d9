"""Generated mutants of the dbt models: every comparison, sort direction, join predicate and numeric
literal flipped one at a time, each run against the model's dbt unit tests.

``make mutants`` (not part of ``make test``). The mutants are not chosen: sqlglot's PostgreSQL
tokenizer reads each model that has dbt unit tests (its Jinja masked out, positions kept, so the
mutated text is the model's own text with one token changed) and every token of these kinds
yields its mutants:

- comparison: ``<`` ↔ ``<=``, ``>`` ↔ ``>=``, ``=`` → ``<>``, ``<>`` → ``=`` (a boundary moved, a
  test negated);
- sort direction: ``asc`` ↔ ``desc`` (which row is "the latest", "the one in force");
- join predicate: in an ``on`` clause of two or more conditions joined by ``and``, each condition
  dropped (a join key forgotten);
- literal threshold: each number outside Jinja moved up (an integer by 1, a decimal by 0.1).

For each mutant the model's text is written into a private copy of the project and its unit tests
run (``dbt test --select <model>,test_type:unit``) against one throwaway warehouse whose seeds are
loaded and whose relations are created empty once, as ``tests/integration/test_dbt_unit_tests.py``
does. A unit test mocks every input of its model, so the model's own unit tests are the tests that
can see a change in it; no Python test reads a model's SQL. *Killed*: a unit test fails. *Survived*:
they pass. *Invalid*: dbt cannot compile or run the mutated SQL (not counted). Results and survivors
go to ``.sinfonia/mutation/dbt_results.json``; ``tests/mutation/GENERATED.md`` is the reviewed record.

    python tests/mutation/dbt_mutants.py [--models NAME[,NAME]] [--list] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "dbt_project" / "models"
WORK = REPO / ".sinfonia" / "mutation"
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)

FLIPS = {"LT": "<=", "LTE": "<", "GT": ">=", "GTE": ">", "EQ": "<>", "NEQ": "="}
DIRECTIONS = {"ASC": "desc", "DESC": "asc"}
# Tokens that end an ``on`` clause at its own parenthesis depth.
CLAUSE_END = {"JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "WHERE", "GROUP_BY", "ORDER_BY", "HAVING",
              "WINDOW", "UNION", "LIMIT", "SEMICOLON", "QUALIFY"}


@dataclass
class Mutant:
    model: str
    path: str
    kind: str
    line: int
    start: int
    end: int  # exclusive
    original: str
    replacement: str
    status: str = "pending"
    detail: str = ""
    seconds: float = 0.0

    @property
    def id(self) -> str:
        return f"{self.model}:{self.line}:{self.kind}:{self.original.strip()[:40]}->{self.replacement.strip()[:40]}"

    def apply(self, text: str) -> str:
        return text[:self.start] + self.replacement + text[self.end:]


def masked(text: str) -> str:
    """The model's text with every Jinja span blanked (same length, newlines kept)."""
    return JINJA.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def unit_tested_models() -> dict[str, Path]:
    """Model name → SQL path, for every model that has at least one dbt unit test."""
    import yaml

    names: set[str] = set()
    for yml in MODELS.rglob("*.yml"):
        for test in (yaml.safe_load(yml.read_text(encoding="utf-8")) or {}).get("unit_tests") or []:
            names.add(test["model"])
    paths = {p.stem: p for p in MODELS.rglob("*.sql")}
    return {name: paths[name] for name in sorted(names) if name in paths}


def generate(model: str, path: Path) -> list[Mutant]:
    from sqlglot.dialects.postgres import Postgres

    text = path.read_text(encoding="utf-8")
    tokens = Postgres().tokenize(masked(text))
    rel = str(path.relative_to(REPO))
    out: list[Mutant] = []

    def add(kind: str, start: int, end: int, replacement: str) -> None:
        out.append(Mutant(model, rel, kind, text.count("\n", 0, start) + 1, start, end, text[start:end], replacement))

    for t in tokens:
        kind = t.token_type.name
        if kind in FLIPS:
            add("comparison", t.start, t.end + 1, FLIPS[kind])
        elif kind in DIRECTIONS:
            add("sort", t.start, t.end + 1, DIRECTIONS[kind])
        elif kind == "NUMBER":
            value = t.text
            bumped = str(int(value) + 1) if value.isdigit() else repr(round(float(value) + (0.1 if float(value) < 1 else 1), 6))
            add("literal", t.start, t.end + 1, bumped)
    for i, t in enumerate(tokens):
        if t.token_type.name != "ON":
            continue
        depth, conjuncts, current = 0, [], []
        for u in tokens[i + 1:]:
            name = u.token_type.name
            if name == "L_PAREN":
                depth += 1
            elif name == "R_PAREN":
                depth -= 1
                if depth < 0:
                    break
            if depth == 0 and name in CLAUSE_END:
                break
            if depth == 0 and name == "AND":
                conjuncts.append((current, u))
                current = []
                continue
            current.append(u)
        conjuncts.append((current, None))
        if len(conjuncts) < 2:
            continue
        for k, (part, joiner) in enumerate(conjuncts):
            if not part:
                continue
            if joiner is not None:  # drop "cond and"
                start, end = part[0].start, joiner.end + 1
            else:  # the last one: drop "and cond"
                start, end = conjuncts[k - 1][1].start, part[-1].end + 1
            add("join", start, end, "")
    return out


def _statuses(result) -> list[tuple[str, str, str]]:
    return [(r.node.name, str(r.status), (r.message or "")[:300]) for r in (result.result.results if result.result else [])]


def run(mutants: list[Mutant], server_dsn: str, budget: float | None = None, report=lambda: None) -> None:
    """Prepare one warehouse, then each mutant against its model's unit tests in a private copy;
    past ``budget`` seconds the remaining mutants are left ``not run``. ``report`` is called after
    each mutant (the results file is kept current, so an interrupted run leaves its record)."""
    started_all = time.perf_counter()
    from sinfonia import config, dbt
    from sinfonia.bootstrap import bootstrap

    root = Path(tempfile.mkdtemp(prefix="sinfonia-dbt-mutants-"))
    copy = root / "dbt_project"
    shutil.copytree(REPO / "dbt_project", copy, ignore=shutil.ignore_patterns("target", "logs"))
    target = root / "target"
    from tests.conftest import throwaway_database

    with throwaway_database(server_dsn, "dbtmut") as dsn:
        bootstrap(dsn)
        dbt.run(["seed", "--quiet"], dsn)
        dbt.run(["run", "--empty", "--quiet"], dsn)
        config.DBT_DIR = copy  # every dbt call below reads the private copy
        baseline = dbt.run(["test", "--select", "test_type:unit", "--quiet"], dsn, check=False, target=target)
        failing = [s for s in _statuses(baseline) if s[1] != "pass"]
        if failing:
            raise SystemExit(f"the dbt unit tests do not pass on the code as it is: {failing}")
        for i, m in enumerate(mutants, 1):
            if budget is not None and time.perf_counter() - started_all > budget:
                for rest in mutants[i - 1:]:
                    rest.status = "not run"
                print(f"time budget of {budget:.0f} s spent: {len(mutants) - i + 1} mutants not run", flush=True)
                break
            model_file = copy / Path(m.path).relative_to("dbt_project")
            original = model_file.read_text(encoding="utf-8")
            model_file.write_text(m.apply(original), encoding="utf-8")
            started = time.perf_counter()
            try:
                result = dbt.run(["test", "--select", f"{m.model},test_type:unit", "--quiet"], dsn, check=False,
                                 target=target)
            finally:
                model_file.write_text(original, encoding="utf-8")
            m.seconds = time.perf_counter() - started
            statuses = _statuses(result)
            failed = [s for s in statuses if s[1] == "fail"]
            errored = [s for s in statuses if s[1] not in ("pass", "fail")]
            if failed:
                m.status, m.detail = "killed", ", ".join(s[0] for s in failed)
            elif errored or not result.success and not statuses:
                m.status = "invalid"
                m.detail = "; ".join(f"{s[0]}: {s[2]}" for s in errored) or str(result.exception)[:300]
            elif not statuses:
                m.status, m.detail = "invalid", "no unit test selected"
            else:
                m.status = "survived"
            print(f"[{i}/{len(mutants)}] {m.status:8} {m.seconds:5.1f} s  {m.id}", flush=True)
            report()
    shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--models", help="comma-separated model names (default: every model with unit tests)")
    parser.add_argument("--list", action="store_true", help="list the mutants without running them")
    parser.add_argument("--limit", type=int, help="run only the first N mutants (a quick check)")
    parser.add_argument("--survivors-of", type=Path, help="run only the mutants that survived in this results file "
                        "(after adding tests for them)")
    parser.add_argument("--budget", type=float, help="stop starting new mutants after this many seconds")
    parser.add_argument("--dsn", help="a superuser URL of a PostgreSQL server (default: a throwaway embedded one)")
    args = parser.parse_args(argv)

    models = unit_tested_models()
    if args.models:
        wanted = args.models.split(",")
        unknown = [w for w in wanted if w not in models]
        if unknown:
            raise SystemExit(f"no unit-tested model named {', '.join(unknown)}; known: {', '.join(models)}")
        models = {k: models[k] for k in wanted}
    mutants = [m for name, path in models.items() for m in generate(name, path)]
    if args.survivors_of:
        previous = set(json.loads(args.survivors_of.read_text(encoding="utf-8"))["survivors"])
        mutants = [m for m in mutants if m.id in previous]
    if args.limit:
        mutants = mutants[:args.limit]
    if args.list:
        for m in mutants:
            print(m.id)
        print(f"{len(mutants)} mutants of {len(models)} models")
        return 0

    sys.path.insert(0, str(REPO))
    started = time.perf_counter()
    out = WORK / ("dbt_rerun.json" if args.survivors_of else "dbt_results.json")

    def report() -> dict:
        killed = [m for m in mutants if m.status == "killed"]
        survived = [m for m in mutants if m.status == "survived"]
        decided = len(killed) + len(survived)
        result = {"mutants": len(mutants), "killed": len(killed), "survived": len(survived),
                  "invalid": sum(m.status == "invalid" for m in mutants),
                  "not_run": sum(m.status in ("pending", "not run") for m in mutants),
                  "score": round(len(killed) / decided, 4) if decided else 0.0,
                  "seconds": round(time.perf_counter() - started, 1),
                  "models": list(models), "survivors": [m.id for m in survived],
                  "results": [{**asdict(m), "id": m.id} for m in mutants]}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return result

    if args.dsn:
        run(mutants, args.dsn, args.budget, report)
    else:
        from sinfonia.warehouse import Embedded

        folder = Path(tempfile.mkdtemp(prefix="sinfonia-dbt-mutants-pg-", dir=REPO / ".sinfonia"))
        folder.chmod(0o755)
        server = Embedded(folder / "pg")
        server.start()
        try:
            run(mutants, server.url("postgres"), args.budget, report)
        finally:
            server.stop()
            shutil.rmtree(folder, ignore_errors=True)
    result = report()
    print(f"dbt mutants: score {result['score']:.0%}: {result['killed']} killed, {result['survived']} survived, "
          f"{result['invalid']} invalid, {result['not_run']} not run, in {result['seconds']:.0f} s; "
          f"{out.relative_to(REPO)}")
    for m in mutants:
        if m.status == "survived":
            print(f"  survived: {m.id}")
    return 0 if not result["survived"] and not result["not_run"] else 1


if __name__ == "__main__":
    sys.exit(main())
