"""The commands that write files for people: ``sample``, ``report``, ``ficha``, ``docs``."""

from __future__ import annotations

from pathlib import Path

from sinfonia.commands.output import dsn as _warehouse
from sinfonia.commands.output import say
from sinfonia.errors import UserError


def cmd_sample(args) -> None:
    from sinfonia.sample import write_sample

    counts = write_sample(Path(args.out), seed=args.seed, scale=args.scale, first_year=args.first_year,
                          last_year=args.last_year, municipalities=args.municipalities,
                          impact_effect=args.impact_effect)
    say(f"sample sources (synthetic) written to {args.out}: "
        + ", ".join(f"{k} {v} file{'s' if v != 1 else ''}" for k, v in counts.items()))


def cmd_report(args) -> None:
    from sinfonia import publish, report

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file: give a folder (created when missing) for index.html and the XLSX")
    dsn = _warehouse()
    publish.require_marts(dsn)
    if args.year is not None:
        report.require_snapshot(dsn, args.year)
    for path in report.build(dsn, out, progress=say, year=args.year, sources=args.sources):
        say(f"  {path}")


def cmd_ficha(args) -> None:
    from sinfonia import publish
    from sinfonia.report import ficha

    dsn = _warehouse()
    publish.require_marts(dsn)
    ficha.build(dsn, Path(args.out), municipality=args.municipality, directorate=args.directorate,
                year=args.year, pdf=not args.no_pdf, progress=say, sources=args.sources)


def cmd_docs(args) -> None:
    from sinfonia import docs

    for name, page in docs.build(_warehouse(), Path(args.out) if args.out else docs.SITE).items():
        say(f"{name:<10} {page}")
