"""``sinfonia``: the command line (DESIGN.md §3).

Every subcommand honours ``WAREHOUSE_DSN`` (else the embedded warehouse), exits 0 on success and
non-zero with a one-line, specific error on failure.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sinfonia import config

def _say(msg: str) -> None:
    print(msg, flush=True)


def _dsn() -> str:
    from sinfonia import warehouse

    return warehouse.start()


def _mart_counts(dsn: str) -> dict[str, int | None]:
    """Rows of every mart: those dbt publishes (the manifest) and any other table in ``marts``."""
    from sinfonia import db, dbt

    out: dict[str, int | None] = {}
    with db.connect(dsn, autocommit=True) as conn:
        present = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = %s", (config.MARTS,))]
        for t in sorted({*dbt.mart_models(), *present}):
            out[t] = db.count(conn, f"marts.{t}") if t in present else None
    return out


def _summary(dsn: str) -> None:
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(dsn)
    _say("\nPublished marts (schema marts):")
    for table, n in _mart_counts(dsn).items():
        _say(f"  marts.{table:<32} {'—' if n is None else f'{n:>8,} rows'}")
    _prioritisation_summary(dsn)
    _say(f"\nWarehouse: postgresql://{info.get('user', '')}@{info.get('host', '')}:{info.get('port', '')}/{info.get('dbname', '')}")


def _run_pipeline(sources: Path, dag_ids: tuple[str, ...]) -> dict[str, float]:
    from sinfonia import pipeline

    dsn = _dsn()
    pipeline.prepare_environment(dsn)
    timings = pipeline.run_dags(dag_ids, {"sources_dir": str(Path(sources).resolve())}, progress=_say)
    _summary(dsn)
    return timings


def _prioritisation_summary(dsn: str) -> None:
    from sinfonia import db

    with db.connect(dsn, autocommit=True) as conn:
        if conn.execute("select to_regclass('meta.prioritisation_run')").fetchone()[0] is None:
            return
        last = conn.execute("""select r.prioritisation_year, r.as_of_date, r.status,
                count(*) filter (where p.is_selected)
            from meta.prioritisation_run r left join marts.mart_prioritisation p using (prioritisation_year)
            group by r.run_id order by r.run_id desc limit 1""").fetchone()
    if last:
        _say(f"\nPrioritised list {last[0]} (as of {last[1]}, {last[2]}): {last[3]} municipalities selected; "
             f"select * from marts.mart_prioritisation where prioritisation_year = {last[0]} "
             "order by national_rank")


# -- subcommands ----------------------------------------------------------------------------------
def cmd_sample(args) -> None:
    from sinfonia.sample import write_sample

    counts = write_sample(Path(args.out), seed=args.seed, scale=args.scale, first_year=args.first_year,
                          last_year=args.last_year, municipalities=args.municipalities,
                          impact_effect=args.impact_effect)
    _say(f"sample sources (synthetic) written to {args.out}: "
         + ", ".join(f"{k} {v} file{'s' if v != 1 else ''}" for k, v in counts.items()))


def cmd_run(args) -> None:
    from sinfonia import pipeline

    dag_ids = pipeline.WEEKLY if args.weekly else pipeline.FULL_REFRESH
    if args.until:
        steps = {"extract": 1, "build": 2, "publish": 2}
        dag_ids = dag_ids[: steps[args.until]]
    _run_pipeline(Path(args.sources), dag_ids)


def cmd_demo(args) -> None:
    from sinfonia import pii, pipeline
    from sinfonia.sample import write_sample

    external = _external_warehouse()  # before the run, which exports the embedded URL
    if not os.environ.get(pii.KEY_ENV):  # synthetic data only: the documented local-only key
        os.environ[pii.KEY_ENV] = pii.DEMO_KEY
        _say(f"{pii.KEY_ENV} not set: using the local-only demo key (synthetic data only).")
    sources = config.state_dir() / "demo-sources"
    _say(f"Writing synthetic sample sources (seed {args.seed}) to {sources} …")
    write_sample(sources, seed=args.seed)
    _run_pipeline(sources, pipeline.FULL_REFRESH)
    _say("Monitoring leaderboard: select * from marts.mart_directorate_playlist order by year, rank")
    _say("Impact estimates: select * from marts.mart_impact_estimates where event_time is null")
    _demo_report()
    if not external:
        _say("The embedded warehouse keeps running so you can query it; stop it with "
             "`sinfonia warehouse stop` (or `make stop`).")


def _demo_report() -> None:
    from sinfonia import report

    out = config.state_dir() / "report"
    _say(f"\nReport for the planning office (synthetic sample data, and it says so): {out / 'index.html'}")
    for path in report.build(_dsn(), out, progress=lambda m: None)[1:]:
        _say(f"Prioritised list as XLSX: {path}")


def cmd_build(args) -> None:
    from sinfonia import pipeline

    dsn = _dsn()
    pipeline.prepare_environment(dsn)
    pipeline.run_dags(("sinfonia_transform",), {}, progress=_say)
    _summary(dsn)


def cmd_impact(args) -> None:
    from sinfonia import db, pipeline

    dsn = _dsn()
    pipeline.prepare_environment(dsn)
    pipeline.run_dags(("sinfonia_impact",), {}, progress=_say)
    with db.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "select outcome, method, estimate, ci_low, ci_high, verdict from marts.mart_impact_estimates "
            "where event_time is null and method in ('cs_did', 'naive') order by outcome, method").fetchall()
    _say("\nImpact estimates (marts.mart_impact_estimates), overall effect with 95% interval (verdict):")
    for outcome, method, est, low, high, verdict in rows:
        _say(f"  {outcome:<16} {method:<8} {est:+7.2f}  [{low:+.2f}, {high:+.2f}]" + (f"  {verdict}" if verdict else ""))
    if not rows:
        _say("  none: no outcome has treated municipalities with a post-treatment year")


def cmd_docs(args) -> None:
    from sinfonia import docs

    pages = docs.build(_dsn(), Path(args.out) if args.out else docs.SITE)
    for name, page in pages.items():
        _say(f"{name:<10} {page}")


def cmd_extract(args) -> None:
    from sinfonia import db
    from sinfonia.extract import discover, extract
    from sinfonia.sources import SOURCES

    if args.source not in SOURCES:
        raise SystemExit(f"unknown source {args.source!r}; known: {', '.join(SOURCES)}")
    period = str(args.year) if args.year else None
    if _remote(args.from_):
        return _extract_remote(args.source, args.from_, period)
    path = Path(args.from_)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    dsn = _dsn()
    db.bootstrap(dsn)
    paths = discover(path, args.source) if path.is_dir() else [path]
    if not paths:
        raise SystemExit(f"no {args.source} files under {path}")
    results = extract(args.source, paths, path if path.is_dir() else None, dsn, period=period,
                      force=args.force)
    for result in results:
        _say(str(result))
    if not results:
        _say(f"{args.source}: these files are already loaded (same bytes); use --force to reload")


def _remote(text: str) -> bool:
    from sinfonia.download import is_url
    from sinfonia.locations import KEYWORDS

    return (text in KEYWORDS and not Path(text).exists()) or is_url(text)


def _extract_remote(source: str, spec: str, period: str | None) -> None:
    """``--from URL`` or ``--from published`` (the documented location, locations.py)."""
    import logging

    from sinfonia import db
    from sinfonia.download import extract_location, location_for_url
    from sinfonia.locations import KEYWORDS, location

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    for noisy in ("urllib3", "requests"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    loc = location(source) if spec in KEYWORDS else location_for_url(source, spec)
    _say(f"{source}: fetching {loc.url}")
    dsn = _dsn()
    db.bootstrap(dsn)
    results = extract_location(source, loc, dsn, period=period)
    for result in results:
        _say(str(result))
    if not results:
        _say(f"{source}: the downloaded files are already loaded (same bytes)")


def cmd_prioritise(args) -> None:
    from datetime import date

    from sinfonia import pipeline

    conf = {"year": args.year, "force": args.force}
    if args.as_of:
        try:
            conf["as_of_date"] = date.fromisoformat(args.as_of).isoformat()
        except ValueError:
            raise SystemExit(f"sinfonia prioritise: --as-of {args.as_of!r} is not a date (YYYY-MM-DD)")
    dsn = _dsn()
    pipeline.prepare_environment(dsn)
    pipeline.run_dags(("sinfonia_prioritisation",), conf, progress=_say)
    _prioritisation_summary(dsn)


def cmd_report(args) -> None:
    from sinfonia import report

    dsn = _dsn()
    written = report.build(dsn, Path(args.out), progress=_say)
    for path in written:
        _say(f"  {path}")


def _external_warehouse() -> bool:
    import os

    return bool(os.environ.get("WAREHOUSE_DSN"))


def cmd_warehouse(args) -> None:
    from sinfonia.warehouse import Embedded

    server = Embedded.default()
    if args.action == "roles":
        from sinfonia import db, roles

        db.bootstrap(_dsn())
        roles.bootstrap_roles(_dsn())
        _say("roles ready: " + ", ".join(roles.ROLES))
        return
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
    s.add_argument("--impact-effect", type=float, default=0.0, metavar="X",
                   help="plant +X MDM points from the year cumulative delivered assistances reach 5")
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("run", help="the whole pipeline from a folder of source files")
    s.add_argument("--sources", required=True)
    s.add_argument("--until", choices=["extract", "build", "publish"])
    s.add_argument("--weekly", action="store_true",
                   help="the weekly monitoring path only: extract, then the monitoring marts")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("extract", help="one source: land, parse, load")
    s.add_argument("source")
    s.add_argument("--from", dest="from_", required=True,
                   help="a file, a sources folder, an http(s) URL, or 'published' (the documented location)")
    s.add_argument("--year", type=int, help="the period (year) of sources that need one")
    s.add_argument("--force", action="store_true", help="reload even files already loaded")
    s.set_defaults(func=cmd_extract)

    s = sub.add_parser("build", help="dbt build, gates, publish")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("impact", help="the impact estimates (the impact DAG)")
    s.set_defaults(func=cmd_impact)

    s = sub.add_parser("prioritise", help="one yearly prioritisation snapshot (the prioritisation DAG)")
    s.add_argument("--year", type=int, required=True)
    s.add_argument("--as-of", dest="as_of", help="use only what was published on or before this date "
                   "(YYYY-MM-DD; default 15 January of the year)")
    s.add_argument("--force", action="store_true", help="rewrite a year already snapshotted")
    s.set_defaults(func=cmd_prioritise)

    s = sub.add_parser("report", help="the report for the planning office (HTML with charts, XLSX list)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_report)


    s = sub.add_parser("docs", help="dbt docs (static) and GX Data Docs into docs-site/")
    s.add_argument("--out", help="folder (default docs-site/ in the checkout)")
    s.set_defaults(func=cmd_docs)

    s = sub.add_parser("warehouse", help="the embedded PostgreSQL warehouse")
    s.add_argument("action", choices=["start", "stop", "status", "url", "roles"],
                   help="roles: create the warehouse roles and grants (idempotent)")
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
