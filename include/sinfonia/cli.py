"""``sinfonia``: the command line (DESIGN.md §3).

Every subcommand honours ``WAREHOUSE_DSN`` (else the embedded warehouse), exits 0 on success and
non-zero with a one-line, specific error on failure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sinfonia import config

MARTS = ("dim_municipality", "dim_territorial_directorate", "dim_thematic_line", "dim_date",
         "fct_technical_assistance", "fct_municipal_indicator")


def _say(msg: str) -> None:
    print(msg, flush=True)


def _dsn() -> str:
    from sinfonia import warehouse

    return warehouse.dsn()


def _mart_counts(dsn: str) -> dict[str, int | None]:
    from sinfonia import db

    out: dict[str, int | None] = {}
    with db.connect(dsn, autocommit=True) as conn:
        for t in MARTS:
            exists = conn.execute("select to_regclass(%s)", (f"marts.{t}",)).fetchone()[0]
            out[t] = db.count(conn, f"marts.{t}") if exists else None
    return out


def _summary(dsn: str) -> None:
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(dsn)
    _say("\nPublished marts (schema marts):")
    for table, n in _mart_counts(dsn).items():
        _say(f"  marts.{table:<32} {'—' if n is None else f'{n:>8,} rows'}")
    _say(f"\nWarehouse: postgresql://{info.get('user', '')}@{info.get('host', '')}:{info.get('port', '')}/{info.get('dbname', '')}")


def _run_pipeline(sources: Path, dag_ids: tuple[str, ...]) -> dict[str, float]:
    from sinfonia import pipeline

    dsn = _dsn()
    pipeline.prepare_environment(dsn)
    timings = pipeline.run_dags(dag_ids, {"sources_dir": str(Path(sources).resolve())}, progress=_say)
    _summary(dsn)
    return timings


# -- subcommands ----------------------------------------------------------------------------------
def cmd_sample(args) -> None:
    from sinfonia.sample import write_sample

    counts = write_sample(Path(args.out), seed=args.seed, scale=args.scale, first_year=args.first_year,
                          last_year=args.last_year, municipalities=args.municipalities)
    _say(f"sample sources (synthetic) written to {args.out}: "
         + ", ".join(f"{k} {v} file{'s' if v != 1 else ''}" for k, v in counts.items()))


def cmd_run(args) -> None:
    from sinfonia import pipeline

    dag_ids = pipeline.FULL_REFRESH
    if args.until:
        steps = {"extract": 1, "build": 2, "publish": 2}
        dag_ids = dag_ids[: steps[args.until]]
    _run_pipeline(Path(args.sources), dag_ids)


def cmd_demo(args) -> None:
    from sinfonia import pipeline
    from sinfonia.sample import write_sample

    sources = config.state_dir() / "demo-sources"
    _say(f"Writing synthetic sample sources (seed {args.seed}) to {sources} …")
    write_sample(sources, seed=args.seed)
    _run_pipeline(sources, pipeline.FULL_REFRESH)
    if not _external_warehouse():
        _say("The embedded warehouse keeps running so you can query it; stop it with "
             "`sinfonia warehouse stop` (or `make stop`).")


def cmd_build(args) -> None:
    from sinfonia import pipeline

    dsn = _dsn()
    pipeline.prepare_environment(dsn)
    pipeline.run_dags(("sinfonia_transform",), {}, progress=_say)
    _summary(dsn)


def cmd_docs(args) -> None:
    from sinfonia import docs

    pages = docs.build(_dsn(), Path(args.out) if args.out else docs.SITE)
    for name, page in pages.items():
        _say(f"{name:<10} {page}")


def cmd_extract(args) -> None:
    from sinfonia import db
    from sinfonia.extract import discover, extract
    from sinfonia.sources import REGISTRY

    if args.source not in REGISTRY:
        raise SystemExit(f"unknown source {args.source!r}; known: {', '.join(REGISTRY)}")
    path = Path(args.from_)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    dsn = _dsn()
    db.bootstrap(dsn)
    paths = discover(path, args.source) if path.is_dir() else [path]
    if not paths:
        raise SystemExit(f"no {args.source} files under {path}")
    for result in extract(args.source, paths, path if path.is_dir() else None, dsn):
        _say(str(result))


def _external_warehouse() -> bool:
    import os

    return bool(os.environ.get("WAREHOUSE_DSN"))


def cmd_warehouse(args) -> None:
    from sinfonia.warehouse import Embedded

    server = Embedded.default()
    if args.action == "start":
        _say(server.start())
    elif args.action == "stop":
        _say("stopped" if server.stop() else "not running")
    elif args.action == "status":
        if server.running():
            _say(f"running (pid {server.pid()}) at {server.url()}; data in {server.data}")
        else:
            _say("not running")
            raise SystemExit(3)
    elif args.action == "url":
        _say(server.url())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sinfonia", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("demo", help="sample sources, then the whole pipeline, then a summary")
    s.add_argument("--seed", type=int, default=42)
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("sample", help="write synthetic source files in the real formats")
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--scale", type=float, default=1.0, help="multiply the assistances")
    s.add_argument("--first-year", type=int, default=2016)
    s.add_argument("--last-year", type=int, default=2025)
    s.add_argument("--municipalities", type=int, default=None,
                   help="a smaller universe (about N municipalities) for quick tests")
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("run", help="the whole pipeline from a folder of source files")
    s.add_argument("--sources", required=True)
    s.add_argument("--until", choices=["extract", "build", "publish"])
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("extract", help="one source: land, parse, load")
    s.add_argument("source")
    s.add_argument("--from", dest="from_", required=True, help="a file or a sources folder")
    s.set_defaults(func=cmd_extract)

    s = sub.add_parser("build", help="dbt build, gates, publish")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("docs", help="dbt docs (static) and GX Data Docs into docs-site/")
    s.add_argument("--out", help="folder (default docs-site/ in the checkout)")
    s.set_defaults(func=cmd_docs)

    s = sub.add_parser("warehouse", help="the embedded PostgreSQL warehouse")
    s.add_argument("action", choices=["start", "stop", "status", "url"])
    s.set_defaults(func=cmd_warehouse)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for people, not a traceback
        first = str(exc).strip().splitlines()
        print(f"sinfonia {args.command}: error: {type(exc).__name__}: {first[0] if first else exc}",
              file=sys.stderr)
        if len(first) > 1:
            print("\n".join(first[1:]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
