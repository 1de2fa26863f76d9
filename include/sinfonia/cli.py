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

from sinfonia import warehouse
from sinfonia.commands import output
from sinfonia.commands.table import COMMANDS
from sinfonia.errors import UserError


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
    for name, command in COMMANDS.items():
        s = sub.add_parser(name, help=command.help, description=command.help, parents=[common])
        s.set_defaults(func=command.func)
        if command.one_of:
            who = s.add_mutually_exclusive_group(required=True)
            for flags, kwargs in command.one_of:
                who.add_argument(*flags, **kwargs)
        for flags, kwargs in command.arguments:
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
    output.note_settings()
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
