"""The console lines of the commands: the closing summary, the warehouse line, the quarantined
rows of a run, the impact estimates and the roles' logins."""

from __future__ import annotations

from sinfonia import warehouse


def say(msg: str) -> None:
    print(msg, flush=True)


def dsn(create: bool = False) -> str:
    """The warehouse the command uses (``warehouse.for_command``), saying when it started one."""
    return warehouse.for_command(create, say=say)


# The configured warehouse when the command started (a run exports the embedded server's URL as
# AIRFLOW_CONN_SINFONIA_WAREHOUSE for its tasks, which is no setting of the user's).
STARTED_WITH: list = []


def note_settings() -> None:
    """Note the configured warehouse as the command starts (``warehouse_line`` names it)."""
    try:
        STARTED_WITH[:] = [warehouse.configured()]
    except Exception:  # noqa: BLE001 - a bad setting is reported by the command that uses it, in one line
        STARTED_WITH[:] = []


def summary(dsn: str, prioritised: bool = False) -> None:
    """The published marts, the prioritised list when this command wrote one, and the warehouse."""
    from sinfonia import prioritisation, publish

    for line in (publish.summary(dsn), prioritisation.summary(dsn) if prioritised else None,
                 "\n" + warehouse_line(dsn)):
        if line:
            say(line)


def warehouse_line(dsn: str) -> str:
    """Where to query the warehouse: the embedded server's whole URL (psql "URL" works; the
    password is the local server's own), a configured one's without its password."""
    configured = STARTED_WITH[0] if STARTED_WITH else warehouse.configured()
    if configured:
        return f"Warehouse: {warehouse.masked(dsn)} (from {configured.origin}, password hidden)"
    return (f"Warehouse: {dsn}\n  (psql takes this URL as it is; `sinfonia warehouse url` prints it again, "
            "`psql \"$(sinfonia warehouse url)\"` connects)")


def quarantine_summary(dsn: str, after: int, reasons: int = 3) -> None:
    """The rows the loads after ``after`` set aside, per source and reason (the most frequent
    first), and where each of them is, with its file, row, column and value: ``meta.quarantine``."""
    from sinfonia.ingest import loading

    for line in quarantine_lines(loading.quarantined_since(dsn, after), after, reasons):
        say(line)


def quarantine_lines(found: list[tuple[str, str, int]], after: int, reasons: int = 3) -> list[str]:
    """``quarantine_summary``'s lines for (source, reason, rows), per source the most frequent first."""
    if not found:
        return []
    total = sum(n for *_, n in found)
    lines = [f"\nQuarantined rows ({total:,}; not loaded, each kept with its file, row, column, value and reason in "
             "meta.quarantine):"]
    by_source: dict[str, list[tuple[str, int]]] = {}
    for source, reason, n in found:
        by_source.setdefault(source, []).append((reason, n))
    for source, rows in by_source.items():
        lines.append(f"  {source}: {sum(n for _, n in rows):,}")
        lines += [f"    {n:>6,} × {reason}" for reason, n in rows[:reasons]]
        if len(rows) > reasons:
            lines.append(f"    {sum(n for _, n in rows[reasons:]):>6,} × {len(rows) - reasons} other reason(s)")
    lines.append(f"  select * from meta.quarantine where load_id > {after} order by source, file_name, row_number")  # noqa: S608 - a hint printed for the user
    return lines


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


def roles_lines(login: dict[str, bool], roles: tuple[str, ...], password_env: dict[str, str]) -> list[str]:
    """``warehouse roles``: each role, whether it can log in and the variable that holds its password."""
    return ["roles ready:"] + [
        f"  {role:<22} " + ("can log in (its password: " if login.get(role) else "cannot log in (NOLOGIN: set ")
        + f"{password_env[role]}"
        + (")" if login.get(role) else " and run `sinfonia warehouse roles` again to give it a login)")
        for role in roles]
