"""The commands that run DAGs: ``demo``, ``run``, ``extract``, ``build``, ``impact``, ``prioritise``.

Each checks what it can before any task runs, runs the DAGs in process (``pipeline.run_logged``:
a line per task, Airflow's and dbt's logs in a file) and ends with what they left."""

from __future__ import annotations

import os
from pathlib import Path

from sinfonia import config, pipeline, warehouse
from sinfonia.commands.output import dsn as _warehouse
from sinfonia.commands.output import quarantine_summary, say, summary
from sinfonia.errors import UserError


def run_dags(args, dag_ids: tuple[str, ...], conf: dict | None = None, returned: dict | None = None) -> None:
    """Run the DAGs in process (``pipeline.run_logged``); the log's path is kept for the error line."""
    args.log = None if args.verbose else pipeline.new_log(args.command)
    pipeline.run_logged(args.log, dag_ids, conf, say=say, returned=returned)


def cmd_run(args) -> None:
    from sinfonia.ingest import loading
    from sinfonia.ingest.extract import sources_folder

    if Path(args.sources).exists() and not Path(args.sources).is_dir():
        raise UserError(f"{args.sources} is a file, not a sources folder: give the folder that holds one "
                        "sub-folder per source (divipola/, pdet/, idf/, esap/, ...)")
    sources = sources_folder(Path(args.sources)).resolve()
    dag_ids = pipeline.WEEKLY if args.weekly else pipeline.FULL_REFRESH
    if args.until:
        dag_ids = dag_ids[: {"extract": 1, "build": 2, "publish": 2}[args.until]]
    dsn = _warehouse(create=True)
    before = loading.last_load(dsn)
    run_dags(args, dag_ids, {"sources_dir": str(sources)})
    quarantine_summary(dsn, before)
    summary(dsn, prioritised="sinfonia_prioritisation" in dag_ids)


def cmd_demo(args) -> None:
    from sinfonia import console, report
    from sinfonia.ingest import loading, pii
    from sinfonia.sample import write_sample

    if not os.environ.get(pii.KEY_ENV):  # synthetic data only: the documented local-only key
        os.environ[pii.KEY_ENV] = pii.DEMO_KEY
        say(f"{pii.KEY_ENV} not set: using the local-only demo key (synthetic data only).")
    sources = config.state_dir() / "demo-sources"
    say(f"Writing synthetic sample sources (seed {args.seed}) to {sources} …")
    console.while_silent("writing the sample sources", lambda: write_sample(sources, seed=args.seed))
    say("Starting the warehouse …")
    dsn = console.while_silent("starting the warehouse", lambda: _warehouse(create=True))
    before = loading.last_load(dsn)
    run_dags(args, pipeline.FULL_REFRESH, {"sources_dir": str(sources.resolve())})
    quarantine_summary(dsn, before)
    summary(dsn, prioritised=True)
    say("Monitoring leaderboard: select * from marts.mart_directorate_playlist order by year, rank")
    say("Impact estimates: select * from marts.mart_impact_estimates where event_time is null "
        "order by outcome, method")
    out = config.state_dir() / "report"
    say(f"\nReport for the planning office (synthetic sample data, and it says so): {out / 'index.html'}")
    written = console.while_silent("writing the report", lambda: report.build(dsn, out, progress=lambda m: None))
    for path in written[1:]:
        say(f"Prioritised list as XLSX: {path}")
    if warehouse.configured() is None:
        say("The embedded warehouse keeps running so you can query it; stop it with "
            "`sinfonia warehouse stop` (or `make stop`).")


def cmd_extract(args) -> None:
    """The extract DAG on the files of one source (its raw gate, Assets, run lock and retries), then
    what it loaded and the rows it set aside in ``meta.quarantine``."""
    from sinfonia.ingest import download, extract, loading

    dsn = _warehouse(create=True)
    before = loading.last_load(dsn)
    returned: dict = {}
    try:
        with download.dag_conf(args.source, args.from_, args.year, args.force, say=say) as conf:
            run_dags(args, ("sinfonia_extract",), conf, returned)
    finally:  # what was loaded, and set aside, is said even when the raw gate then fails
        results = extract.results(args.source, returned)
        for result in results:
            say(str(result))
        if any(r.rows_quarantined for r in results):
            quarantine_summary(dsn, before)
    if not results:
        say(f"{args.source}: these files are already loaded (same bytes); use --force to reload")


def cmd_build(args) -> None:
    from sinfonia import runlock
    from sinfonia.ingest import loading

    dsn = _warehouse()
    # A run holding the warehouse may be extracting: its lock answers. Otherwise a warehouse nothing
    # was ever loaded into is refused at once: dbt would fail on every raw table, and no retry loads them.
    if runlock.holder(dsn)[0] is None and not loading.anything_loaded(dsn):
        raise UserError(f"nothing has been extracted into the warehouse {warehouse.masked(dsn)} yet: extract first "
                        "(`sinfonia run --sources DIR` extracts and builds; or `sinfonia extract SOURCE "
                        "--from PATH` for each source, then `sinfonia build`)")
    run_dags(args, ("sinfonia_transform",))
    summary(dsn, prioritised=False)


def cmd_impact(args) -> None:
    from sinfonia import publish
    from sinfonia.commands.output import impact_lines
    from sinfonia.impact.store import overall_effects

    dsn = _warehouse()
    publish.require_marts(dsn)
    run_dags(args, ("sinfonia_impact",))
    for line in impact_lines(overall_effects(dsn)):
        say(line)


def cmd_prioritise(args) -> None:
    from sinfonia import prioritisation, publish

    prioritisation.check_year(args.year)
    dsn = _warehouse()
    if args.drop:
        removed = prioritisation.drop_snapshot(dsn, args.year)
        if not any(removed.values()):
            raise UserError(f"there is no prioritisation snapshot of {args.year} to remove")
        say(f"removed the {args.year} snapshot: " + ", ".join(f"{n} rows of {t}" for t, n in removed.items()))
        return
    conf = {"year": args.year, "force": args.force}
    if args.as_of:
        conf["as_of_date"] = args.as_of.isoformat()
    publish.require_marts(dsn)
    if not args.force and (kept := prioritisation.keep_published(dsn, args.year, conf.get("as_of_date"))):
        say(str(kept))
        say(prioritisation.summary(dsn) or "")  # the line a run that keeps the year ends with
        return
    if not args.allow_no_goals:
        prioritisation.require_goals(dsn, args.year)
    run_dags(args, ("sinfonia_prioritisation",), conf)
    say(prioritisation.summary(dsn) or "no prioritisation run recorded")
