"""``sinfonia``: Sinfonía's command line (sources → Airflow DAGs → dbt → published marts).

Every subcommand uses the warehouse of ``WAREHOUSE_DSN`` when it is set, else the embedded one;
exits 0 on success and non-zero with a one-line, specific error on failure. The commands that run
DAGs print a line per task and write Airflow's and dbt's logs to a file under the state folder.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from pathlib import Path

from sinfonia import config


class CommandError(Exception):
    """A failure the user can act on: printed as one line, without a traceback."""


def _say(msg: str) -> None:
    print(msg, flush=True)


def _configured_dsn() -> tuple[str, str] | None:
    """(variable, URL) of the configured warehouse, as ``warehouse.dsn`` reads it; None when unset."""
    for name in ("WAREHOUSE_DSN", "AIRFLOW_CONN_SINFONIA_WAREHOUSE"):
        if os.environ.get(name):
            return name, os.environ[name]
    return None


def _masked(dsn: str) -> str:
    import re

    return re.sub(r"password=\S+", "password=***", re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", dsn))


def _warehouse(create: bool = False) -> str:
    """The URL of the warehouse in use: ``WAREHOUSE_DSN`` when set, else the embedded server.

    Only the commands that build a warehouse (``demo``, ``run``, ``extract``, ``warehouse start``)
    create and start the embedded server (``create``) and leave it running. The others need one
    that exists: they fail with what to do when there is none, and start a stopped one only for
    their own duration."""
    configured = _configured_dsn()
    if configured:
        return configured[1]
    from sinfonia.warehouse import Embedded

    server = Embedded.default()
    if create:
        return server.start()
    if not server.initialised:
        raise CommandError(f"no warehouse yet in {server.folder}: `sinfonia demo` or `sinfonia run --sources "
                           "DIR` builds one (or set WAREHOUSE_DSN to use another server)")
    if server.running():
        return server.url()
    url = server.start()
    atexit.register(server.stop)
    _say("(the embedded warehouse was stopped: started for this command, stopped again after it)")
    return url


def _require_marts(dsn: str) -> None:
    from sinfonia import db

    with db.connect(dsn, autocommit=True) as conn:
        if conn.execute("select to_regclass('marts.dim_municipality')").fetchone()[0] is None:
            raise CommandError(f"the warehouse {_masked(dsn)} has no published marts yet: run "
                               "`sinfonia run --sources DIR` (or `sinfonia demo`) first")


def _require_extracted(dsn: str) -> None:
    """Refuse a build of a warehouse nothing was ever loaded into: dbt would fail on every raw
    table, and no retry can load them."""
    from sinfonia import db

    with db.connect(dsn, autocommit=True) as conn:
        exists = conn.execute("select to_regclass('meta.load_run')").fetchone()[0] is not None
        loaded = exists and conn.execute("select exists (select from meta.load_run where status = 'loaded')"
                                         ).fetchone()[0]
    if not loaded:
        raise CommandError(f"nothing has been extracted into the warehouse {_masked(dsn)} yet: extract first "
                           "(`sinfonia run --sources DIR` extracts and builds; or `sinfonia extract SOURCE "
                           "--from PATH` for each source, then `sinfonia build`)")


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


def _summary(dsn: str, prioritised: bool = False) -> None:
    """The published marts, the prioritised list when this command wrote one, and the warehouse."""
    _say("\nPublished marts (schema marts):")
    for table, n in _mart_counts(dsn).items():
        _say(f"  marts.{table:<32} {'—' if n is None else f'{n:>8,} rows'}")
    if prioritised:
        _prioritisation_summary(dsn)
    _say("\n" + _warehouse_line(dsn))


# The configured warehouse when the command started (a run exports the embedded server's URL as
# AIRFLOW_CONN_SINFONIA_WAREHOUSE for its tasks, which is no setting of the user's).
_STARTED_WITH: list[tuple[str, str] | None] = []


def _warehouse_line(dsn: str) -> str:
    """Where to query the warehouse: the embedded server's whole URL (psql "URL" works; the
    password is the local server's own), a configured one's without its password."""
    configured = _STARTED_WITH[0] if _STARTED_WITH else _configured_dsn()
    if configured:
        return (f"Warehouse: {_masked(dsn)} (from {configured[0]}, password hidden): "
                f'psql "${configured[0]}" connects')
    return (f"Warehouse: {dsn}\n  (psql takes this URL as it is; `sinfonia warehouse url` prints it again, "
            "`psql \"$(sinfonia warehouse url)\"` connects)")


def _run_dags(args, dsn: str, dag_ids: tuple[str, ...], conf: dict | None = None) -> dict[str, float]:
    """Run the DAGs in process: a line per task on the console, everything else in the log file
    (printed first; ``--verbose`` streams it instead)."""
    from sinfonia import pipeline

    pipeline.prepare_environment(dsn)
    args.log = None if args.verbose else pipeline.new_log(args.command)
    if args.log:
        _say(f"Airflow and dbt logs: {args.log}")
    with pipeline.output_to(args.log) as say:
        return pipeline.run_dags(dag_ids, conf or {}, progress=say)


def _run_pipeline(args, sources: Path, dag_ids: tuple[str, ...], dsn: str) -> dict[str, float]:
    before = _last_load(dsn)
    timings = _run_dags(args, dsn, dag_ids, {"sources_dir": str(Path(sources).resolve())})
    _quarantine_summary(dsn, before)
    _summary(dsn, prioritised="sinfonia_prioritisation" in dag_ids)
    return timings


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


def _source_folder(path: Path) -> Path:
    """A sources folder holding at least one recognised file, else an error saying what is expected."""
    from sinfonia.ingest.extract import discover
    from sinfonia.ingest.sources import CATALOGUE

    if path.exists() and not path.is_dir():
        raise CommandError(f"{path} is a file, not a sources folder: give the folder that holds one sub-folder "
                           "per source (divipola/, pdet/, idf/, esap/, ...)")
    if not path.is_dir():
        raise CommandError(f"sources folder {path} does not exist")
    if not any((path / s.folder).is_dir() and discover(path, s.name) for s in CATALOGUE):
        expected = "; ".join(f"{s.folder}/{'|'.join(s.patterns)}" for s in CATALOGUE)
        raise CommandError(f"no recognised source file in {path}: expected one sub-folder per source "
                           f"({expected}); `sinfonia sample --out DIR` writes an example")
    return path


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
        _say(f"\nPrioritised list {last[0]} (as of {last[1]}, {last[2]}): {last[3]} municipalities selected; "  # noqa: S608 - a hint printed for the user, not a query run here
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

    sources = _source_folder(Path(args.sources))
    dag_ids = pipeline.WEEKLY if args.weekly else pipeline.FULL_REFRESH
    if args.until:
        steps = {"extract": 1, "build": 2, "publish": 2}
        dag_ids = dag_ids[: steps[args.until]]
    _run_pipeline(args, sources, dag_ids, _warehouse(create=True))


def cmd_demo(args) -> None:
    from sinfonia import pipeline
    from sinfonia.ingest import pii
    from sinfonia.sample import write_sample

    external = _configured_dsn() is not None  # before the run, which exports the embedded URL
    if not os.environ.get(pii.KEY_ENV):  # synthetic data only: the documented local-only key
        os.environ[pii.KEY_ENV] = pii.DEMO_KEY
        _say(f"{pii.KEY_ENV} not set: using the local-only demo key (synthetic data only).")
    from sinfonia import console

    sources = config.state_dir() / "demo-sources"
    _say(f"Writing synthetic sample sources (seed {args.seed}) to {sources} …")
    console.while_silent("writing the sample sources", lambda: write_sample(sources, seed=args.seed))
    _say("Starting the embedded warehouse …" if not external else "Using the warehouse of "
         f"{_configured_dsn()[0]} …")
    dsn = console.while_silent("starting the warehouse", lambda: _warehouse(create=True))
    _run_pipeline(args, sources, pipeline.FULL_REFRESH, dsn)
    _say("Monitoring leaderboard: select * from marts.mart_directorate_playlist order by year, rank")
    _say("Impact estimates: select * from marts.mart_impact_estimates where event_time is null")
    _demo_report(dsn)
    if not external:
        _say("The embedded warehouse keeps running so you can query it; stop it with "
             "`sinfonia warehouse stop` (or `make stop`).")


def _demo_report(dsn: str) -> None:
    from sinfonia import report

    out = config.state_dir() / "report"
    _say(f"\nReport for the planning office (synthetic sample data, and it says so): {out / 'index.html'}")
    from sinfonia import console

    written = console.while_silent("writing the report", lambda: report.build(dsn, out, progress=lambda m: None))
    for path in written[1:]:
        _say(f"Prioritised list as XLSX: {path}")


def cmd_build(args) -> None:
    dsn = _warehouse()
    _require_extracted(dsn)
    _run_dags(args, dsn, ("sinfonia_transform",))
    _summary(dsn, prioritised=False)


def cmd_impact(args) -> None:
    from sinfonia import db

    dsn = _warehouse()
    _require_marts(dsn)
    _run_dags(args, dsn, ("sinfonia_impact",))
    with db.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "select outcome, method, estimate, ci_low, ci_high, verdict from marts.mart_impact_estimates "
            "where event_time is null and method in ('cs_did', 'naive') order by outcome, method").fetchall()
    _say("\nImpact estimates (marts.mart_impact_estimates), overall effect with 95% interval (verdict):")
    for outcome, method, est, low, high, verdict in rows:
        _say(f"  {outcome:<16} {method:<8} {est:+7.2f}  [{low:+.2f}, {high:+.2f}]"
             + (f"  {verdict}" if verdict else ""))
    if not rows:
        _say("  none: no outcome has treated municipalities with a post-treatment year")


def cmd_docs(args) -> None:
    from sinfonia import docs

    pages = docs.build(_warehouse(), Path(args.out) if args.out else docs.SITE)
    for name, page in pages.items():
        _say(f"{name:<10} {page}")


def _source_files(path: Path, source: str) -> tuple[list[Path], Path | None]:
    """The files of ``source`` at ``path`` and the sources folder they belong to: a file; a sources
    folder (files in its ``<source folder>/``); or that source folder itself."""
    from sinfonia.ingest.extract import discover
    from sinfonia.ingest.sources import get

    if not path.is_dir():
        return [path], None
    spec = get(source)
    paths = discover(path, source)
    if not paths:
        raise CommandError(f"no {source} files in {path}: expected {spec.folder}/{'|'.join(spec.patterns)} "
                           f"in a sources folder, or {'|'.join(spec.patterns)} in the folder given")
    if (path / spec.folder).is_dir():
        return paths, path
    return paths, path.parent if path.name == spec.folder else path


def cmd_extract(args) -> None:
    from sinfonia.bootstrap import bootstrap
    from sinfonia.ingest.extract import extract
    from sinfonia.ingest.sources import SOURCES

    if args.source not in SOURCES:
        raise CommandError(f"unknown source {args.source!r}; known: {', '.join(SOURCES)}")
    period = str(args.year) if args.year else None
    if _remote(args.from_):
        return _extract_remote(args.source, args.from_, period)
    path = Path(args.from_)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    paths, sources_dir = _source_files(path, args.source)
    dsn = _warehouse(create=True)
    bootstrap(dsn)
    before = _last_load(dsn)
    from sinfonia import console

    results = console.while_silent(f"extracting {args.source}", lambda: extract(
        args.source, paths, sources_dir, dsn, period=period, force=args.force))
    for result in results:
        _say(str(result))
    _quarantine_summary(dsn, before)
    if not results:
        _say(f"{args.source}: these files are already loaded (same bytes); use --force to reload")


def _remote(text: str) -> bool:
    from sinfonia.ingest.download import is_url
    from sinfonia.ingest.locations import KEYWORDS

    return (text in KEYWORDS and not Path(text).exists()) or is_url(text)


def _extract_remote(source: str, spec: str, period: str | None) -> None:
    """``--from URL`` or ``--from published`` (the documented location, locations.py)."""
    import logging

    from sinfonia.bootstrap import bootstrap
    from sinfonia.ingest.download import extract_location, location_for_url
    from sinfonia.ingest.locations import KEYWORDS, location

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    for noisy in ("urllib3", "requests"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    loc = location(source) if spec in KEYWORDS else location_for_url(source, spec)
    _say(f"{source}: fetching {loc.url}")
    dsn = _warehouse(create=True)
    bootstrap(dsn)
    results = extract_location(source, loc, dsn, period=period)
    for result in results:
        _say(str(result))
    if not results:
        _say(f"{source}: the downloaded files are already loaded (same bytes)")


def cmd_prioritise(args) -> None:
    from datetime import date

    from sinfonia import prioritisation

    first, last = prioritisation.YEARS
    if not first <= args.year <= last:
        raise CommandError(f"--year {args.year} is out of range ({first}–{last})")
    dsn = _warehouse()
    if args.drop:
        removed = prioritisation.drop_snapshot(dsn, args.year)
        if not any(removed.values()):
            raise CommandError(f"there is no prioritisation snapshot of {args.year} to remove")
        _say(f"removed the {args.year} snapshot: " + ", ".join(f"{n} rows of {t}" for t, n in removed.items())
             + f"; the marts were gated and published again without it (marts.mart_prioritisation has no "
             f"{args.year} now)")
        return
    conf = {"year": args.year, "force": args.force}
    if args.as_of:
        try:
            conf["as_of_date"] = date.fromisoformat(args.as_of).isoformat()
        except ValueError:
            raise CommandError(f"--as-of {args.as_of!r} is not a date (YYYY-MM-DD)") from None
    _require_marts(dsn)
    if not args.force and _kept(dsn, args.year, conf.get("as_of_date")):
        return
    if not args.allow_no_goals:
        years = prioritisation.goal_years(dsn)
        if args.year not in years:
            known = f"years with goals: {', '.join(map(str, years))}" if years else "no year has goals"
            raise CommandError(f"{args.year} has no goals (ESAP's metas export; {known}): its snapshot would "
                               "select no municipality; pass --allow-no-goals to write it anyway")
    _run_dags(args, dsn, ("sinfonia_prioritisation",), conf)
    _prioritisation_summary(dsn)


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
    _prioritisation_summary(dsn)  # the line a run that keeps the year ends with
    return True


def cmd_report(args) -> None:
    from sinfonia import db, report

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out} is a file: give a folder (created when missing) for index.html and the XLSX")
    dsn = _warehouse()
    _require_marts(dsn)
    if args.year is not None:
        with db.connect(dsn, autocommit=True) as conn:
            years = report.snapshot_years(conn)
        if args.year not in years:
            raise CommandError(f"there is no prioritisation snapshot of {args.year} (snapshots: "
                               f"{', '.join(map(str, years)) or 'none'}); `sinfonia prioritise --year "
                               f"{args.year}` writes one")
    written = report.build(dsn, Path(args.out), progress=_say, year=args.year)
    for path in written:
        _say(f"  {path}")


def cmd_ficha(args) -> None:
    from sinfonia.report import ficha

    dsn = _warehouse()
    _require_marts(dsn)
    try:
        ficha.build(dsn, Path(args.out), municipality=args.municipality, directorate=args.directorate,
                    year=args.year, pdf=not args.no_pdf, progress=_say)
    except ficha.FichaError as exc:
        raise CommandError(str(exc)) from None


def cmd_warehouse(args) -> None:
    from sinfonia.warehouse import Embedded

    configured = _configured_dsn()
    if args.action == "roles":
        from sinfonia import db, roles
        from sinfonia.bootstrap import bootstrap

        dsn = _warehouse()
        bootstrap(dsn)
        roles.bootstrap_roles(dsn)
        with db.connect(dsn, autocommit=True) as conn:
            login = dict(conn.execute("select rolname, rolcanlogin from pg_roles where rolname = any(%s)",
                                      (list(roles.ROLES),)).fetchall())
        _say("roles ready:")
        for role in roles.ROLES:
            _say(f"  {role:<22} " + ("can log in (its password: " if login.get(role) else
                                     "cannot log in (NOLOGIN: set ") + f"{roles.PASSWORD_ENV[role]}"
                 + (")" if login.get(role) else " and run `sinfonia warehouse roles` again to give it a login)"))
        return
    if configured and args.action in ("url", "status"):
        return _configured_status(*configured, url_only=args.action == "url")
    server = Embedded.default()
    if args.action == "start":
        if configured:
            raise CommandError(f"{configured[0]} is set, so every command uses that server: the embedded "
                               f"warehouse is not started (unset {configured[0]} to use it)")
        _say(server.start())
    elif args.action == "stop":
        _say("stopped" if server.stop() else "not running")
    elif args.action == "status":
        if server.running():
            _say(f"running (pid {server.pid()}) at {server.url()}; data in {server.data}")
        else:
            _say("not running" + ("" if server.initialised else " (never started)"))
            raise SystemExit(3)
    elif args.action == "url":
        _say(server.url())


def _configured_status(variable: str, dsn: str, url_only: bool) -> None:
    """``warehouse url|status`` when a server is configured: that server, its password hidden."""
    import psycopg

    if url_only:
        _say(_masked(dsn))
        return
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            version = conn.execute("show server_version").fetchone()[0]
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()
        _say(f"unreachable: {_masked(dsn)} (from {variable}): {first[0] if first else type(exc).__name__}")
        raise SystemExit(3) from None
    _say(f"reachable: {_masked(dsn)} (from {variable}), PostgreSQL {version}")


def cmd_airflow(args) -> None:
    from sinfonia import airflow_local
    from sinfonia.warehouse import Embedded

    configured = _configured_dsn()
    server = Embedded.default()
    # The DAGs run from the UI need the warehouse: the configured one, else the embedded one when it
    # exists (started for as long as Airflow runs when it was stopped).
    dsn = configured[1] if configured else (_warehouse() if server.initialised else None)
    airflow_local.serve(args.port, dsn, say=_say)


# -- the parser -----------------------------------------------------------------------------------
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


def _common() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--verbose", action="store_true",
                        help="stream Airflow's and dbt's logs to the console instead of the log file")
    common.add_argument("--debug", action="store_true", help="on failure, print the whole traceback")
    return common


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="sinfonia", description="Sinfonía's command line: source files → "
                                "Airflow DAGs → dbt → the published marts of the warehouse.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           help="one of these (`sinfonia COMMAND --help` describes its arguments)")
    common = [_common()]

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, description=help_, parents=common)

    s = command("demo", "synthetic sample sources, then the whole pipeline, then a summary and the report")
    s.add_argument("--seed", type=int, default=42, help="random seed of the sample (default 42)")
    s.set_defaults(func=cmd_demo)

    s = command("sample", "write synthetic source files in the real formats and file names")
    s.add_argument("--out", required=True, metavar="DIR", help="folder to write the sources folder into")
    s.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    s.add_argument("--scale", type=float, default=1.0, help="multiply the assistances (default 1)")
    s.add_argument("--first-year", type=int, default=2016, help="first year of data (default 2016)")
    s.add_argument("--last-year", type=int, default=2025, help="last year of data (default 2025)")
    s.add_argument("--municipalities", type=int, default=None, metavar="N",
                   help="a smaller universe (about N municipalities) for quick tests")
    s.add_argument("--impact-effect", type=float, default=0.0, metavar="X",
                   help="plant +X MDM points from the year cumulative delivered assistances reach 5")
    s.set_defaults(func=cmd_sample)

    s = command("run", "the DAGs on a folder of source files: extract, build, impact, prioritise")
    s.add_argument("--sources", required=True, metavar="DIR",
                   help="sources folder, one sub-folder per source (divipola/, pdet/, idf/, esap/, ...)")
    s.add_argument("--until", choices=["extract", "build", "publish"],
                   help="stop after this step (build and publish: after the transform DAG)")
    s.add_argument("--weekly", action="store_true",
                   help="the weekly monitoring path only: extract, then the monitoring marts")
    s.set_defaults(func=cmd_run)

    s = command("extract", "one source: download or read, land, parse, load")
    s.add_argument("source", help="the source: divipola, pdet, idf, esap_asistencias, esap_metas, "
                   "esap_equipos, mdm, ipm, imrc, cgn_categories")
    s.add_argument("--from", dest="from_", required=True, metavar="PATH_OR_URL",
                   help="a file, a sources folder, the source's own folder, an http(s) URL, or "
                   "'published' (the documented location)")
    s.add_argument("--year", type=int, help="the period (year) of sources that need one")
    s.add_argument("--force", action="store_true", help="reload even files already loaded")
    s.set_defaults(func=cmd_extract)

    s = command("build", "the transform DAG: dbt build, gates, publish")
    s.set_defaults(func=cmd_build)

    s = command("impact", "the impact DAG: estimates into marts.mart_impact_estimates")
    s.set_defaults(func=cmd_impact)

    s = command("prioritise", "one yearly prioritisation snapshot (the prioritisation DAG), or remove one")
    s.add_argument("--year", type=int, required=True, help="the prioritisation year")
    s.add_argument("--as-of", dest="as_of", metavar="DATE", help="use only what was published on or before "
                   "this date (YYYY-MM-DD; default 15 January of the year)")
    s.add_argument("--force", action="store_true", help="rewrite a year already snapshotted")
    s.add_argument("--allow-no-goals", action="store_true",
                   help="snapshot a year that has no goals (it selects no municipality)")
    s.add_argument("--drop", action="store_true",
                   help="remove the year's snapshot and its run records instead of writing one")
    s.set_defaults(func=cmd_prioritise)

    s = command("report", "the report for the planning office: DIR/index.html and the prioritised list as XLSX")
    s.add_argument("--out", required=True, metavar="DIR", help="folder to write the report into")
    s.add_argument("--year", type=int, help="prioritisation year (default: the latest year with goals)")
    s.set_defaults(func=cmd_report)

    s = command("ficha", "characterisation sheets before a first visit: one HTML and PDF per municipality, "
                         "and an index")
    who = s.add_mutually_exclusive_group(required=True)
    who.add_argument("--municipality", metavar="CODE", help="5-digit DIVIPOLA code of one municipality")
    who.add_argument("--directorate", metavar="CODE",
                     help="territorial directorate code (e.g. ANT): a sheet per selected municipality")
    s.add_argument("--year", type=int, help="prioritisation year (default: the latest prioritised)")
    s.add_argument("--out", default="fichas", metavar="DIR", help="folder to write the sheets into (default fichas/)")
    s.add_argument("--no-pdf", action="store_true", help="HTML only (the PDF needs headless Chromium)")
    s.set_defaults(func=cmd_ficha)

    s = command("docs", "dbt docs (static) and GX Data Docs into docs-site/")
    s.add_argument("--out", metavar="DIR", help="folder (default docs-site/ in the checkout)")
    s.set_defaults(func=cmd_docs)

    s = command("warehouse", "the warehouse: the embedded PostgreSQL, or the server of WAREHOUSE_DSN")
    s.add_argument("action", choices=["start", "stop", "status", "url", "roles"],
                   help="start/stop: the embedded server; status/url: the server in use (WAREHOUSE_DSN "
                   "when set, its password hidden); roles: create the warehouse roles and grants (idempotent)")
    s.set_defaults(func=cmd_warehouse)

    s = command("airflow", "Airflow's web UI and scheduler on loopback for this checkout's DAGs (Ctrl-C stops)")
    s.add_argument("--port", type=int, default=8080, help="port of the web UI on 127.0.0.1 (default 8080)")
    s.set_defaults(func=cmd_airflow)
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
    _STARTED_WITH[:] = [_configured_dsn()]
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
        configured = _configured_dsn()
        if configured and type(exc).__name__ == "OperationalError" and "psycopg" in type(exc).__module__:
            lines = [f"the warehouse of {configured[0]} ({_masked(configured[1])}) cannot be reached: "
                     f"{lines[0]} (check {configured[0]}; `sinfonia warehouse status` tries it)", *lines[1:]]
            exc = CommandError(lines[0])
        kind = "" if isinstance(exc, CommandError) else f"{type(exc).__name__}: "
        print(f"sinfonia {args.command}: error: {kind}{lines[0]}", file=sys.stderr)
        if len(lines) > 1:
            print("\n".join(lines[1:]), file=sys.stderr)
        if getattr(args, "log", None):
            print(f"the whole log: {args.log}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
