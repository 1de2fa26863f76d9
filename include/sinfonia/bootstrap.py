"""The warehouse's bootstrap: schemas and bookkeeping tables (``sql/bootstrap.sql``), every raw
table of the source catalogue, and, when this user may, the roles. Idempotent.

It sits above both the connection layer (:mod:`sinfonia.db`, a leaf) and the ingestion wing
(:mod:`sinfonia.ingest.raw_tables`), so that neither has to import the other.
"""

from __future__ import annotations

import logging
from importlib import resources

from sinfonia import db, roles
from sinfonia.ingest.raw_tables import ensure_raw_tables

log = logging.getLogger(__name__)


def bootstrap(dsn: str | None = None) -> None:
    """Create the schemas, bookkeeping tables, raw tables and, when this user may, the roles."""
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
