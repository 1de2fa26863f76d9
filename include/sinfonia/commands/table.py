"""The commands of ``sinfonia`` and their arguments: ``sinfonia COMMAND --help`` prints them."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sinfonia.commands.dags import cmd_build, cmd_demo, cmd_extract, cmd_impact, cmd_prioritise, cmd_run
from sinfonia.commands.files import cmd_docs, cmd_ficha, cmd_report, cmd_sample
from sinfonia.commands.servers import cmd_airflow, cmd_warehouse


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _arg(*flags: str, **kwargs) -> tuple[tuple[str, ...], dict]:
    return flags, kwargs


@dataclass(frozen=True)
class Command:
    """A subcommand: what runs it, its one-line help, its arguments (``_arg``), and a group of
    arguments of which exactly one must be given (listed first in its help)."""

    func: Callable
    help: str
    arguments: tuple = ()
    one_of: tuple = ()


_YEAR = _arg("--year", type=int, help="the period (year) of sources that need one")
_MGN = _arg("--sources", metavar="DIR", help="sources folder whose mgn/ holds DANE's MGN municipality boundaries "
            "(GeoJSON or shapefile) for the maps; without it the maps draw points at DIVIPOLA's coordinates")
COMMANDS = {
    "demo": Command(cmd_demo, "synthetic sample sources, then the whole pipeline, then a summary and the report", (
        _arg("--seed", type=int, default=42, help="random seed of the sample (default 42)"),)),
    "sample": Command(cmd_sample, "write synthetic source files in the real formats and file names", (
        _arg("--out", required=True, metavar="DIR", help="folder to write the sources folder into"),
        _arg("--seed", type=int, default=42, help="random seed (default 42)"),
        _arg("--scale", type=float, default=1.0, help="multiply the assistances (default 1)"),
        _arg("--first-year", type=int, default=2016, help="first year of data (default 2016)"),
        _arg("--last-year", type=int, default=2025, help="last year of data (default 2025)"),
        _arg("--municipalities", type=int, metavar="N",
             help="a smaller universe (about N municipalities) for quick tests"),
        _arg("--impact-effect", type=float, default=0.0, metavar="X",
             help="plant +X MDM points from the year cumulative delivered assistances reach 5"))),
    "run": Command(cmd_run, "the DAGs on a folder of source files: extract, build, impact, prioritise", (
        _arg("--sources", required=True, metavar="DIR",
             help="sources folder, one sub-folder per source (divipola/, pdet/, idf/, esap/, ...)"),
        _arg("--until", choices=["extract", "build", "publish"],
             help="stop after this step (build and publish: after the transform DAG)"),
        _arg("--weekly", action="store_true",
             help="the weekly monitoring path only: extract, then the monitoring marts"))),
    "extract": Command(cmd_extract, "one source through the extract DAG: download or read, land, parse, load, "
                       "raw gate", (
        _arg("source", help="the source: divipola, pdet, idf, esap_asistencias, esap_metas, esap_equipos, mdm, ipm, "
             "imrc, cgn_categories"),
        _arg("--from", dest="from_", required=True, metavar="PATH_OR_URL", help="a file, a sources folder, the "
             "source's own folder, an http(s) URL, or 'published' (the documented location)"),
        _YEAR, _arg("--force", action="store_true", help="reload even files already loaded"))),
    "build": Command(cmd_build, "the transform DAG: dbt build, gates, publish"),
    "impact": Command(cmd_impact, "the impact DAG: estimates into marts.mart_impact_estimates"),
    "prioritise": Command(cmd_prioritise, "one yearly prioritisation snapshot (the prioritisation DAG), or remove "
                          "one", (
        _arg("--year", type=int, required=True, help="the prioritisation year"),
        _arg("--as-of", dest="as_of", metavar="DATE", type=_date, help="use only what was "
             "published on or before this date (YYYY-MM-DD; default 15 January of the year)"),
        _arg("--force", action="store_true", help="rewrite a year already snapshotted"),
        _arg("--allow-no-goals", action="store_true",
             help="snapshot a year that has no goals (it selects no municipality)"),
        _arg("--drop", action="store_true",
             help="remove the year's snapshot and its run records instead of writing one"))),
    "report": Command(cmd_report, "the report for the planning office: DIR/index.html and the prioritised list as "
                      "XLSX", (
        _arg("--out", required=True, metavar="DIR", help="folder to write the report into"),
        _arg("--year", type=int, help="prioritisation year (default: the latest year with goals)"), _MGN)),
    "ficha": Command(cmd_ficha, "characterisation sheets before a first visit: one HTML and PDF per municipality, "
                     "and an index", (
        _arg("--year", type=int, help="prioritisation year (default: the latest prioritised)"),
        _arg("--out", default="fichas", metavar="DIR", help="folder to write the sheets into (default fichas/)"),
        _arg("--no-pdf", action="store_true", help="HTML only (the PDF needs headless Chromium)"), _MGN), one_of=(
        _arg("--municipality", metavar="CODE", help="5-digit DIVIPOLA code of one municipality"),
        _arg("--directorate", metavar="CODE",
             help="territorial directorate code (e.g. ANT): a sheet per selected municipality"))),
    "docs": Command(cmd_docs, "dbt docs (static) and GX Data Docs into docs-site/", (
        _arg("--out", metavar="DIR", help="folder (default docs-site/ in the checkout)"),)),
    "warehouse": Command(cmd_warehouse, "the warehouse: the embedded PostgreSQL, or the server of WAREHOUSE_DSN", (
        _arg("action", choices=["start", "stop", "status", "url", "roles"], help="start/stop: the embedded server; "
             "status/url: the server in use (WAREHOUSE_DSN when set, its password hidden); roles: create the "
             "warehouse roles and grants (idempotent)"),)),
    "airflow": Command(cmd_airflow, "Airflow's web UI and scheduler on loopback for this checkout's DAGs (Ctrl-C "
                       "stops)", (_arg("--port", type=int, default=8080, help="port of the web UI on 127.0.0.1 "
                                       "(default 8080)"),)),
}
