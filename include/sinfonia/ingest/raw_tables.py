"""The raw tables of the source catalogue, created empty before anything is loaded so that models
and gates find them (person-level sources in ``restricted``, the others in ``raw``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sinfonia.ingest.loading import ensure_raw_table
from sinfonia.ingest.sources import CATALOGUE

if TYPE_CHECKING:
    import psycopg


def ensure_raw_tables(conn: psycopg.Connection) -> None:
    """Every table of every source of the catalogue (idempotent)."""
    for spec in CATALOGUE:
        for name, columns in spec.tables.items():
            ensure_raw_table(conn, name, columns, spec.schema)
