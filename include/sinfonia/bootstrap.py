"""The warehouse's bootstrap: schemas and bookkeeping tables (``sql/bootstrap.sql``), every raw
table of the source catalogue, and, when this user may, the roles. Idempotent.

It sits above both the connection layer (:mod:`sinfonia.db`, a leaf) and the ingestion wing
(:mod:`sinfonia.ingest.raw_tables`), so that neither has to import the other.
"""

from __future__ import annotations

import logging
import time
from importlib import resources

import psycopg

from sinfonia import db, roles
from sinfonia.ingest.raw_tables import ensure_raw_tables

log = logging.getLogger(__name__)


# Two bootstraps at once (two extracts starting together) race on the catalogue: `create … if not
# exists` and grants of the one fail with 'tuple concurrently updated' (XX000) or a unique violation
# on a catalogue index while the other commits. The whole bootstrap is one transaction, so it is
# simply run again: the second time, the other one's objects exist. No lock is taken that another
# role could hold to stop it.
RACES = (psycopg.errors.InternalError_, psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject,
         psycopg.errors.DuplicateTable, psycopg.errors.DuplicateSchema, psycopg.errors.SerializationFailure,
         psycopg.errors.DeadlockDetected)
ATTEMPTS = 5


def bootstrap(dsn: str | None = None) -> None:
    """Create the schemas, bookkeeping tables, raw tables and, when this user may, the roles."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _bootstrap(dsn)
        except RACES as exc:
            if attempt == ATTEMPTS:
                raise
            log.info("bootstrap raced another one (%s); again (%d of %d)", str(exc).strip().splitlines()[0],
                     attempt + 1, ATTEMPTS)
            time.sleep(0.2 * attempt)


def _bootstrap(dsn: str | None) -> None:
    sql = resources.files("sinfonia").joinpath("sql/bootstrap.sql").read_text()
    with db.connect(dsn) as conn:
        conn.execute(sql)
        ensure_raw_tables(conn)
        may = conn.execute("select rolsuper or rolcreaterole from pg_roles where rolname = current_user").fetchone()
        if may and may[0]:
            roles.apply(conn)
        else:
            log.warning("this warehouse user may not create roles: run `sinfonia warehouse roles` as an "
                        "administrator to create %s", ", ".join(roles.ROLES))
