"""The commands that serve: ``warehouse`` (the embedded server, the address, the roles) and
``airflow`` (the local web UI and scheduler)."""

from __future__ import annotations

from sinfonia import airflow_local, warehouse
from sinfonia.commands.output import dsn as _warehouse
from sinfonia.commands.output import roles_lines, say


def cmd_warehouse(args) -> None:
    if args.action == "roles":
        from sinfonia import roles
        from sinfonia.bootstrap import bootstrap

        dsn = _warehouse()
        bootstrap(dsn)
        roles.bootstrap_roles(dsn)
        for line in roles_lines(roles.can_log_in(dsn), roles.ROLES, roles.PASSWORD_ENV):
            say(line)
        return
    code = warehouse.command(args.action, say=say)
    if code:
        raise SystemExit(code)


def cmd_airflow(args) -> None:
    # The DAGs run from the UI find the warehouse as this command does (warehouse.address); the
    # embedded one, when it exists, runs for as long as Airflow does.
    where = warehouse.configured()
    if where is None and warehouse.Embedded.default().initialised:
        _warehouse()
    airflow_local.serve(args.port, where.origin if where else "the embedded one", say=say)
