"""``sinfonia``: Sinfonía's command line (sources → Airflow DAGs → dbt → published marts).

It parses and prints; what it does lives in the modules that own it. Every subcommand uses the
warehouse of ``warehouse.address`` (``WAREHOUSE_DSN``, else the Airflow connection
``sinfonia_warehouse``, else the embedded server); exits 0 on success and non-zero with a one-line,
specific error on failure. The commands that run DAGs print a line per task and write Airflow's and
dbt's logs to a file under the state folder.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

from sinfonia import airflow_local, config, pipeline, warehouse
from sinfonia.errors import UserError


class CommandError(UserError):
    """A failure the user can act on: printed as one line, without a traceback."""


def _say(msg: str) -> None:
    print(msg, flush=True)


def _warehouse(create: bool = False) -> str:
    return warehouse.for_command(create, say=_say)


def _summary(dsn: str, prioritised: bool = False) -> None:
    """The published marts, the prioritised list when this command wrote one, and the warehouse."""
    from sinfonia import prioritisation, publish

    for line in (publish.summary(dsn), prioritisation.summary(dsn) if prioritised else None,
                 "\n" + _warehouse_line(dsn)):
        if line:
            _say(line)


# The configured warehouse when the command started (a run exports the embedded server's URL as
# AIRFLOW_CONN_SINFONIA_WAREHOUSE for its tasks, which is no setting of the user's).
_STARTED_WITH: list = []


def _warehouse_line(dsn: str) -> str:
    """Where to query the warehouse: the embedded server's whole URL (psql "URL" works; the
    password is the local server's own), a configured one's without its password."""
    configured = _STARTED_WITH[0] if _STARTED_WITH else warehouse.configured()
    if configured:
        return f"Warehouse: {warehouse.masked(dsn)} (from {configured.origin}, password hidden)"
    return (f"Warehouse: {dsn}\n  (psql takes this URL as it is; `sinfonia warehouse url` prints it again, "
            "`psql \"$(sinfonia warehouse url)\"` connects)")


def _require_extracted(dsn: str) -> None:
    """Refuse a build of a warehouse nothing was ever loaded into: dbt would fail on every raw
    table, and no retry can load them."""
    from sinfonia import db

    with db.connect(dsn, autocommit=True) as conn:
        exists = conn.execute("select to_regclass('meta.load_run')").fetchone()[0] is not None
        loaded = exists and conn.execute("select exists (select from meta.load_run where status = 'loaded')"
                                         ).fetchone()[0]
    if not loaded:
        raise CommandError(f"nothing has been extracted into the warehouse {warehouse.masked(dsn)} yet: extract first "
                           "(`sinfonia run --sources DIR` extracts and builds; or `sinfonia extract SOURCE "
                           "--from PATH` for each source, then `sinfonia build`)")


def _last_load(dsn: str) -> int:
    """The last load run's id in ``meta.load_run`` (0 when none): the loads after it are this run's."""
    from sinfonia import db

    with db.connect(dsn, autocommit=True) as conn:
        if conn.execute("select to_regclass('meta.load_run')").fetchone()[0] is None:
            return 0
        return conn.execute("select coalesce(max(load_id), 0) from meta.load_run").fetchone()[0]


def _quarantine_summary(dsn: str, after: int, reasons: int = 3) -> None:
    """The rows this run's loads set aside, per source and reason (the most frequent first), and
    where each of them is, with its file, row, column and value: ``meta.quarantine``."""
    from sinfonia import db

    with db.connect(dsn, autocommit=True) as conn:
        if conn.execute("select to_regclass('meta.quarantine')").fetchone()[0] is None:
            return
        found = conn.execute("""select source, reason, count(*) from meta.quarantine where load_id > %s
                                group by 1, 2 order by 1, 3 desc, 2""", (after,)).fetchall()
    if not found:
        return
    total = sum(n for *_, n in found)
    _say(f"\nQuarantined rows ({total:,}; not loaded, each kept with its file, row, column, value and reason in "
         "meta.quarantine):")
    by_source: dict[str, list[tuple[str, int]]] = {}
    for source, reason, n in found:
        by_source.setdefault(source, []).append((reason, n))
    for source, rows in by_source.items():
        _say(f"  {source}: {sum(n for _, n in rows):,}")
        for reason, n in rows[:reasons]:
            _say(f"    {n:>6,} × {reason}")
        if len(rows) > reasons:
            _say(f"    {sum(n for _, n in rows[reasons:]):>6,} × {len(rows) - reasons} other reason(s)")
    _say(f"  select * from meta.quarantine where load_id > {after} order by source, file_name, row_number")  # noqa: S608 - a hint printed for the user


def _kept(dsn: str, year: int, as_of: str | None) -> bool:
    """A year already snapshotted and published is kept (without ``--force``): recorded and said at
    once, without running the DAG, whose dbt builds would keep it too."""
    from sinfonia import db, prioritisation

    plan = prioritisation.plan(dsn, year, as_of, force=False)
    if plan.status != "kept":
        return False
    with db.connect(dsn, autocommit=True) as conn:
        published = conn.execute("select to_regclass('marts.mart_prioritisation')").fetchone()[0] is not None and \
            conn.execute("select exists (select from marts.mart_prioritisation where prioritisation_year = %s)",
                         (year,)).fetchone()[0]
    if not published:  # written but never published: the DAG gates and publishes it
        return False
    _say(str(prioritisation.record(dsn, plan)))
    from sinfonia import prioritisation as _p

    _say(_p.summary(dsn) or "")  # the line a run that keeps the year ends with
    return True




def _run_dags(args, dag_ids: tuple[str, ...], conf: dict | None = None, returned: dict | None = None) -> None:
    """Run the DAGs in process (``pipeline.run_logged``); the log's path is kept for the error line."""
    args.log = None if args.verbose else pipeline.new_log(args.command)
    pipeline.run_logged(args.log, dag_ids, conf, say=_say, returned=returned)


# -- subcommands ----------------------------------------------------------------------------------
def cmd_sample(args) -> None:
    from sinfonia.sample import write_sample

    counts = write_sample(Path(args.out), seed=args.seed, scale=args.scale, first_year=args.first_year,
                          last_year=args.last_year, municipalities=args.municipalities,
                          impact_effect=args.impact_effect)
    _say(f"sample sources (synthetic) written to {args.out}: "
         + ", ".join(f"{k} {v} file{'s' if v != 1 else ''}" for k, v in counts.items()))


def cmd_run(args) -> None:
    from sinfonia.ingest.extract import sources_folder

    if Path(args.sources).exists() and not Path(args.sources).is_dir():
        raise CommandError(f"{args.sources} is a file, not a sources folder: give the folder that holds one "
                           "sub-folder per source (divipola/, pdet/, idf/, esap/, ...)")
    sources = sources_folder(Path(args.sources)).resolve()
    dag_ids = pipeline.WEEKLY if args.weekly else pipeline.FULL_REFRESH
    if args.until:
        dag_ids = dag_ids[: {"extract": 1, "build": 2, "publish": 2}[args.until]]
    dsn = _warehouse(create=True)
    before = _last_load(dsn)
    _run_dags(args, dag_ids, {"sources_dir": str(sources)})
    _quarantine_summary(dsn, before)
    _summary(dsn, prioritised="sinfonia_prioritisation" in dag_ids)


def cmd_demo(args) -> None:
    from sinfonia import report
    from sinfonia.ingest import pii
    from sinfonia.sample import write_sample

    if not os.environ.get(pii.KEY_ENV):  # synthetic data only: the documented local-only key
        os.environ[pii.KEY_ENV] = pii.DEMO_KEY
        _say(f"{pii.KEY_ENV} not set: using the local-only demo key (synthetic data only).")
    sources = config.state_dir() / "demo-sources"
    _say(f"Writing synthetic sample sources (seed {args.seed}) to {sources} …")
    from sinfonia import console

    console.while_silent("writing the sample sources", lambda: write_sample(sources, seed=args.seed))
    _say("Starting the warehouse …")
    dsn = console.while_silent("starting the warehouse", lambda: _warehouse(create=True))
    before = _last_load(dsn)
    _run_dags(args, pipeline.FULL_REFRESH, {"sources_dir": str(sources.resolve())})
    _quarantine_summary(dsn, before)
    _summary(dsn, prioritised=True)
    _say("Monitoring leaderboard: select * from marts.mart_directorate_playlist order by year, rank")
    _say("Impact estimates: select * from marts.mart_impact_estimates where event_time is null "
         "order by outcome, method")
    out = config.state_dir() / "report"
    _say(f"\nReport for the planning office (synthetic sample data, and it says so): {out / 'index.html'}")
    written = console.while_silent("writing the report", lambda: report.build(dsn, out, progress=lambda m: None))
    for path in written[1:]:
        _say(f"Prioritised list as XLSX: {path}")
    if warehouse.configured() is None:
        _say("The embedded warehouse keeps running so you can query it; stop it with "
             "`sinfonia warehouse stop` (or `make stop`).")


def cmd_build(args) -> None:
    from sinfonia import runlock

    dsn = _warehouse()
    if runlock.holder(dsn)[0] is None:  # a run holding the warehouse may be extracting: its lock answers
        _require_extracted(dsn)
    _run_dags(args, ("sinfonia_transform",))
    _summary(dsn, prioritised=False)


def cmd_impact(args) -> None:
    from sinfonia import publish
    from sinfonia.impact.store import overall_effects

    dsn = _warehouse()
    publish.require_marts(dsn)
    _run_dags(args, ("sinfonia_impact",))
    for line in impact_lines(overall_effects(dsn)):
        _say(line)


def impact_lines(rows) -> list[str]:
    """The console's impact summary: per outcome and method the overall effect, its 95% interval and
    its minimum detectable effect; under the headline (cs_did) row, its verdict and the reason."""
    lines = ["\nImpact estimates (marts.mart_impact_estimates), overall effect with 95% interval and "
             "minimum detectable effect (80% power, 5% family-wise):"]
    for outcome, method, est, low, high, mde, verdict, reason in rows:
        detectable = "" if mde is None else f"  MDE {mde:.2f}"
        lines.append(f"  {outcome:<28} {method:<8} {est:+7.2f}  [{low:+.2f}, {high:+.2f}]{detectable}")
        if verdict:
            lines.append(f"    {verdict}: {reason}" if reason else f"    {verdict}")
    if not rows:
        lines.append("  none: no outcome has treated municipalities with a post-treatment year")
    return lines


def cmd_docs(args) -> None:
    from sinfonia import docs

    for name, page in docs.build(_warehouse(), Path(args.out) if args.out else docs.SITE).items():
        _say(f"{name:<10} {page}")


def cmd_extract(args) -> None:
    """The extract DAG on the files of one source (its raw gate, Assets, run lock and retries)."""
    from sinfonia.ingest import download, extract

    _warehouse(create=True)
    returned: dict = {}
    try:
        with download.dag_conf(args.source, args.from_, args.year, args.force, say=_say) as conf:
            _run_dags(args, ("sinfonia_extract",), conf, returned)
    finally:  # what was loaded is said even when the raw gate then fails
        results = extract.results(args.source, returned)
        for result in results:
            _say(str(result))
    if not results:
        _say(f"{args.source}: these files are already loaded (same bytes); use --force to reload")


def cmd_prioritise(args) -> None:
    from sinfonia import prioritisation, publish

    prioritisation.check_year(args.year)
    dsn = _warehouse()
    if args.drop:
        removed = prioritisation.drop_snapshot(dsn, args.year)
        if not any(removed.values()):
            raise CommandError(f"there is no prioritisation snapshot of {args.year} to remove")
        _say(f"removed the {args.year} snapshot: " + ", ".join(f"{n} rows of {t}" for t, n in removed.items()))
        return
    conf = {"year": args.year, "force": args.force}
    if args.as_of:
        conf["as_of_date"] = args.as_of.isoformat()
    publish.require_marts(dsn)
    if not args.force and _kept(dsn, args.year, conf.get("as_of_date")):
        return
    if not args.allow_no_goals:
        prioritisation.require_goals(dsn, args.year)
    _run_dags(args, ("sinfonia_prioritisation",), conf)
    _say(prioritisation.summary(dsn) or "no prioritisation run recorded")


def cmd_report(args) -> None:
    from sinfonia import publish, report

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out} is a file: give a folder (created when missing) for index.html and the XLSX")
    dsn = _warehouse()
    publish.require_marts(dsn)
    if args.year is not None:
        report.require_snapshot(dsn, args.year)
    for path in report.build(dsn, Path(args.out), progress=_say, year=args.year, sources=args.sources):
        _say(f"  {path}")


def cmd_ficha(args) -> None:
    from sinfonia import publish
    from sinfonia.report import ficha

    dsn = _warehouse()
    publish.require_marts(dsn)
    ficha.build(dsn, Path(args.out), municipality=args.municipality, directorate=args.directorate,
                year=args.year, pdf=not args.no_pdf, progress=_say, sources=args.sources)


def cmd_warehouse(args) -> None:
    from sinfonia import roles
    from sinfonia.bootstrap import bootstrap

    if args.action == "roles":
        dsn = _warehouse()
        bootstrap(dsn)
        roles.bootstrap_roles(dsn)
        from sinfonia import db

        with db.connect(dsn, autocommit=True) as conn:
            login = dict(conn.execute("select rolname, rolcanlogin from pg_roles where rolname = any(%s)",
                                      (list(roles.ROLES),)).fetchall())
        _say("roles ready:")
        for role in roles.ROLES:
            _say(f"  {role:<22} " + ("can log in (its password: " if login.get(role) else
                                     "cannot log in (NOLOGIN: set ") + f"{roles.PASSWORD_ENV[role]}"
                 + (")" if login.get(role) else " and run `sinfonia warehouse roles` again to give it a login)"))
        return
    code = warehouse.command(args.action, say=_say)
    if code:
        raise SystemExit(code)


def cmd_airflow(args) -> None:
    # The DAGs run from the UI find the warehouse as this command does (warehouse.address); the
    # embedded one, when it exists, runs for as long as Airflow does.
    where = warehouse.configured()
    if where is None and warehouse.Embedded.default().initialised:
        _warehouse()
    airflow_local.serve(args.port, where.origin if where else "the embedded one", say=_say)


# -- the parser -----------------------------------------------------------------------------------
def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _arg(*flags: str, **kwargs) -> tuple[tuple[str, ...], dict]:
    return flags, kwargs


_YEAR = _arg("--year", type=int, help="the period (year) of sources that need one")
COMMANDS = {  # name: (function, help, arguments); `sinfonia COMMAND --help` prints them
    "demo": (cmd_demo, "synthetic sample sources, then the whole pipeline, then a summary and the report",
             [_arg("--seed", type=int, default=42, help="random seed of the sample (default 42)")]),
    "sample": (cmd_sample, "write synthetic source files in the real formats and file names", [
        _arg("--out", required=True, metavar="DIR", help="folder to write the sources folder into"),
        _arg("--seed", type=int, default=42, help="random seed (default 42)"),
        _arg("--scale", type=float, default=1.0, help="multiply the assistances (default 1)"),
        _arg("--first-year", type=int, default=2016, help="first year of data (default 2016)"),
        _arg("--last-year", type=int, default=2025, help="last year of data (default 2025)"),
        _arg("--municipalities", type=int, metavar="N",
             help="a smaller universe (about N municipalities) for quick tests"),
        _arg("--impact-effect", type=float, default=0.0, metavar="X",
             help="plant +X MDM points from the year cumulative delivered assistances reach 5")]),
    "run": (cmd_run, "the DAGs on a folder of source files: extract, build, impact, prioritise", [
        _arg("--sources", required=True, metavar="DIR",
             help="sources folder, one sub-folder per source (divipola/, pdet/, idf/, esap/, ...)"),
        _arg("--until", choices=["extract", "build", "publish"],
             help="stop after this step (build and publish: after the transform DAG)"),
        _arg("--weekly", action="store_true",
             help="the weekly monitoring path only: extract, then the monitoring marts")]),
    "extract": (cmd_extract, "one source through the extract DAG: download or read, land, parse, load, raw gate", [
        _arg("source", help="the source: divipola, pdet, idf, esap_asistencias, esap_metas, esap_equipos, mdm, ipm, "
             "imrc, cgn_categories"),
        _arg("--from", dest="from_", required=True, metavar="PATH_OR_URL", help="a file, a sources folder, the "
             "source's own folder, an http(s) URL, or 'published' (the documented location)"),
        _YEAR, _arg("--force", action="store_true", help="reload even files already loaded")]),
    "build": (cmd_build, "the transform DAG: dbt build, gates, publish", []),
    "impact": (cmd_impact, "the impact DAG: estimates into marts.mart_impact_estimates", []),
    "prioritise": (cmd_prioritise, "one yearly prioritisation snapshot (the prioritisation DAG), or remove one", [
        _arg("--year", type=int, required=True, help="the prioritisation year"),
        _arg("--as-of", dest="as_of", metavar="DATE", type=_date, help="use only what was "
             "published on or before this date (YYYY-MM-DD; default 15 January of the year)"),
        _arg("--force", action="store_true", help="rewrite a year already snapshotted"),
        _arg("--allow-no-goals", action="store_true",
             help="snapshot a year that has no goals (it selects no municipality)"),
        _arg("--drop", action="store_true",
             help="remove the year's snapshot and its run records instead of writing one")]),
    "report": (cmd_report, "the report for the planning office: DIR/index.html and the prioritised list as XLSX", [
        _arg("--out", required=True, metavar="DIR", help="folder to write the report into"),
        _arg("--year", type=int, help="prioritisation year (default: the latest year with goals)"),
        _arg("--sources", metavar="DIR", help="sources folder whose mgn/ holds DANE's MGN municipality boundaries "
             "(GeoJSON or shapefile) for the maps; without it the maps draw points at DIVIPOLA's coordinates")]),
    "ficha": (cmd_ficha, "characterisation sheets before a first visit: one HTML and PDF per municipality, and "
              "an index", [
        _arg("--year", type=int, help="prioritisation year (default: the latest prioritised)"),
        _arg("--out", default="fichas", metavar="DIR", help="folder to write the sheets into (default fichas/)"),
        _arg("--no-pdf", action="store_true", help="HTML only (the PDF needs headless Chromium)"),
        _arg("--sources", metavar="DIR", help="sources folder whose mgn/ holds DANE's MGN municipality boundaries "
             "(GeoJSON or shapefile) for the maps; without it the maps draw points at DIVIPOLA's coordinates")]),
    "docs": (cmd_docs, "dbt docs (static) and GX Data Docs into docs-site/",
             [_arg("--out", metavar="DIR", help="folder (default docs-site/ in the checkout)")]),
    "warehouse": (cmd_warehouse, "the warehouse: the embedded PostgreSQL, or the server of WAREHOUSE_DSN", [
        _arg("action", choices=["start", "stop", "status", "url", "roles"], help="start/stop: the embedded server; "
             "status/url: the server in use (WAREHOUSE_DSN when set, its password hidden); roles: create the "
             "warehouse roles and grants (idempotent)")]),
    "airflow": (cmd_airflow, "Airflow's web UI and scheduler on loopback for this checkout's DAGs (Ctrl-C stops)",
                [_arg("--port", type=int, default=8080, help="port of the web UI on 127.0.0.1 (default 8080)")]),
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistyped option (``--yaer``) is reported as unknown, with the closest
    option, instead of as the required one it was meant to be."""

    def parse_known_args(self, args=None, namespace=None):
        self._given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str):
        import difflib

        prefix = "unrecognized arguments: "
        given = message.removeprefix(prefix).split() if message.startswith(prefix) else getattr(self, "_given", [])
        unknown = [a.split("=", 1)[0] for a in given if a.startswith("--") and a != "--"
                   and a.split("=", 1)[0] not in self._option_string_actions]
        if unknown:
            options = [o for o in self._option_string_actions if o.startswith("--")]
            hints = [f"{a} (did you mean {close[0]}?)" if (close := difflib.get_close_matches(a, options, 1, 0.6))
                     else a for a in unknown]
            message = prefix + " ".join(hints)
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="sinfonia", description="Sinfonía's command line: source files → "
                                "Airflow DAGs → dbt → the published marts of the warehouse.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           help="one of these (`sinfonia COMMAND --help` describes its arguments)")
    common = _Parser(add_help=False)
    common.add_argument("--verbose", action="store_true",
                        help="stream Airflow's and dbt's logs to the console instead of the log file")
    common.add_argument("--debug", action="store_true", help="on failure, print the whole traceback")
    for name, (func, help_, arguments) in COMMANDS.items():
        s = sub.add_parser(name, help=help_, description=help_, parents=[common])
        s.set_defaults(func=func)
        if name == "ficha":
            who = s.add_mutually_exclusive_group(required=True)
            who.add_argument("--municipality", metavar="CODE", help="5-digit DIVIPOLA code of one municipality")
            who.add_argument("--directorate", metavar="CODE",
                             help="territorial directorate code (e.g. ANT): a sheet per selected municipality")
        for flags, kwargs in arguments:
            s.add_argument(*flags, **kwargs)
    return p


def main(argv: list[str] | None = None) -> int:
    """The command line. Run as the ``sinfonia`` program (no ``argv``), a command that drove DAGs
    ends the process as soon as it has said everything (``_exit``)."""
    code = _main(argv)
    if argv is None and "airflow" in sys.modules:
        _exit(code)
    return code


def _exit(code: int) -> None:
    """End the process now: the exit handlers run (a warehouse started for the command is stopped,
    logs are flushed), but not the interpreter's teardown of Airflow, dbt, pandas and Great
    Expectations, which kept the prompt away for 15–30 s after the last line on a loaded machine."""
    import atexit

    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _main(argv: list[str] | None) -> int:
    try:
        _STARTED_WITH[:] = [warehouse.configured()]
    except Exception:  # noqa: BLE001 - a bad setting is reported by the command that uses it, in one line
        _STARTED_WITH[:] = []
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported by the command's own parser, which knows its options
        next(a for a in parser._actions if a.dest == "command").choices[args.command].error(
            f"unrecognized arguments: {' '.join(extra)}")
    try:
        args.func(args)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for people, not a traceback
        if args.debug:
            import traceback

            traceback.print_exc()
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        kind = "" if isinstance(exc, UserError) else f"{type(exc).__name__}: "
        if type(exc).__name__ == "OperationalError" and type(exc).__module__.startswith("psycopg"):

            where = warehouse.configured()
            kind = f"cannot use the warehouse of {where.origin if where else warehouse.EMBEDDED}: "
        print(f"sinfonia {args.command}: error: {kind}{lines[0]}", file=sys.stderr)
        if len(lines) > 1:
            print("\n".join(lines[1:]), file=sys.stderr)
        if getattr(args, "log", None):
            print(f"the whole log: {args.log}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
