"""Loads parsed rows into ``raw`` with COPY: one transaction per source-period.

A parser turns files into ``Batch``es: the rows it could read (text values, in the raw table's
column order) and the rows it could not (``Rejected``, with the column and the reason). Loading a
batch replaces that source-period in ``raw`` and in ``meta.quarantine`` and records a
``meta.load_run`` row whose counts reconcile (read = loaded + quarantined), all in one
transaction: a failed load leaves the warehouse as it was.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # psycopg is imported when a batch loads, not when a DAG file imports the catalogue
    import psycopg

LINEAGE = ("_load_id", "_period", "_file", "_row_number", "_published_on")
# When the row was loaded: filled by the table's default (the load transaction's start), the
# ``loaded_at_field`` of the dbt sources' freshness.
LOADED_AT = "_loaded_at timestamptz not null default now()"
_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_SPECIAL = re.compile(r"[\\\t\n\r]")
_CHUNK = 1 << 20


def _copy_text(rows: list[tuple], lineage_tail: tuple[str, str]):
    """COPY text-format lines, in chunks of about 1 MB.

    Faster than ``write_row`` per row: values are text already, so a line is a join, and the
    escaping (backslash, tab, newline, carriage return; None as \\N) runs only on the rows that
    need it. ``lineage_tail`` holds the per-batch lineage values, already escaped.
    """
    files: dict[str, str] = {}
    chunk: list[str] = []
    size = 0
    for file_name, row_number, *values in rows:
        head = files.get(file_name)
        if head is None:
            head = files[file_name] = file_name.translate(_ESCAPE)
        if _SPECIAL.search("".join(filter(None, values))):
            line = "\t".join("\\N" if v is None else v.translate(_ESCAPE) for v in values)
        elif None in values:
            line = "\t".join("\\N" if v is None else v for v in values)
        else:
            line = "\t".join(values)
        line = f"{line}\t{lineage_tail[0]}\t{head}\t{row_number}\t{lineage_tail[1]}\n"
        chunk.append(line)
        size += len(line)
        if size >= _CHUNK:
            yield "".join(chunk)
            chunk, size = [], 0
    if chunk:
        yield "".join(chunk)


@dataclass
class Rejected:
    file_name: str
    row_number: int
    column: str | None
    value: str | None
    reason: str
    record: dict | None = None


@dataclass
class Batch:
    """Rows of one source-period, ready for ``raw``."""

    source: str
    period: str
    columns: tuple[str, ...]
    rows: list[tuple] = field(default_factory=list)  # (file_name, row_number, *values)
    rejected: list[Rejected] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # sha256 of the landed files
    notes_skipped: int = 0  # footnote and title rows below the data, not data rows
    published_on: date | None = None
    # Person-level sources (esap_equipos) load into ``restricted``, never into ``raw``.
    schema: str = "raw"
    # (file, raw column) → the header as published, for messages about a column after parsing.
    headers: dict[tuple[str, str], str] = field(default_factory=dict)
    # What a person should know about a load that is not a quarantined row (values loaded as
    # published but flagged, a check skipped): kept in meta.load_run.message and printed.
    notices: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.rows) + len(self.rejected)

    def note_headers(self, file_name: str, headers: dict[str, str]) -> None:
        """Remember how ``file_name`` heads each raw column (``Table.headers``)."""
        self.headers.update({(file_name, column): header for column, header in headers.items()})

    def header_of(self, file_name: str, column: str) -> str:
        """The header ``file_name`` gives ``column``, else the raw column's name."""
        return self.headers.get((file_name, column), column)

    def reject(self, file_name, row_number, column, value, reason, record=None) -> None:
        self.rejected.append(
            Rejected(file_name, row_number, column, None if value is None else str(value), reason, record)
        )


@dataclass(frozen=True)
class LoadResult:
    source: str
    period: str
    load_id: int
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    notices: tuple[str, ...] = ()

    def __str__(self) -> str:
        return (
            f"{self.source} {self.period}: read {self.rows_read}, loaded {self.rows_loaded}, "
            f"quarantined {self.rows_quarantined}"
        ) + "".join(f"\n  note: {n}" for n in self.notices)


class LoadError(ValueError):
    """The database refused a value (names the file, its row and the column)."""


def _located(exc: psycopg.errors.DataError, batch: Batch) -> str:
    """The COPY error at the row of the file it came from (COPY counts lines of its stream)."""
    match = re.search(r"line (\d+)(?:, column (\w+))?", exc.diag.context or "")
    what = exc.diag.message_primary or str(exc)
    tail = f"; nothing of {batch.source} {batch.period} was loaded"
    if not match or not 0 < int(match.group(1)) <= len(batch.rows):
        return f"{batch.source} {batch.period}: {what}{tail}"
    file_name, row_number, *values = batch.rows[int(match.group(1)) - 1]
    column = match.group(2) or next(
        (c for c, v in zip(batch.columns, values, strict=False) if v is not None and "\x00" in v), "(unknown column)")
    return f"{file_name}: row {row_number}, column {column}: {what}{tail}"


def ensure_raw_table(conn: psycopg.Connection, source: str, columns: tuple[str, ...],
                     schema: str = "raw") -> None:
    """Create the raw table, or add the columns a newer parser reads (text, nullable)."""
    from psycopg import sql

    existing = {r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
        (schema, source))}
    table = sql.Identifier(schema, source)
    if not existing:
        cols = [sql.SQL("{} text").format(sql.Identifier(c)) for c in columns]
        lineage = sql.SQL(
            "_load_id bigint not null, _period text not null, _file text not null, "
            "_row_number integer not null, _published_on date, " + LOADED_AT
        )
        conn.execute(sql.SQL("create table {} ({}, {})").format(table, sql.SQL(", ").join(cols), lineage))
        return
    for c in columns:
        if c not in existing:
            conn.execute(sql.SQL("alter table {} add column {} text").format(table, sql.Identifier(c)))
    if "_loaded_at" not in existing:  # a table created before the column existed
        conn.execute(sql.SQL("alter table {} add column " + LOADED_AT).format(table))


def load_batch(conn: psycopg.Connection, batch: Batch) -> LoadResult:
    """Replace ``batch.source``/``batch.period`` in its schema (``raw`` unless the batch says
    otherwise) and in quarantine, in one transaction."""
    import psycopg

    try:
        return _load(conn, batch)
    except psycopg.OperationalError as exc:
        from sinfonia.db import WarehouseGone  # (psycopg only when a batch loads: see above)

        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WarehouseGone(
            f"the warehouse went away while loading {batch.source} {batch.period} from "
            f"{', '.join(sorted({r[0] for r in batch.rows})) or 'its files'} ({reason}): nothing of it "
            "was loaded (one transaction) and nothing was published") from exc


def _load(conn: psycopg.Connection, batch: Batch) -> LoadResult:
    import psycopg
    from psycopg import sql

    started = datetime.now(UTC)
    with conn.transaction():
        ensure_raw_table(conn, batch.source, batch.columns, batch.schema)
        table = sql.Identifier(batch.schema, batch.source)
        conn.execute(sql.SQL("delete from {} where _period = %s").format(table), (batch.period,))
        conn.execute(
            "delete from meta.load_run where source = %s and period = %s", (batch.source, batch.period)
        )
        load_id = conn.execute(
            """
            insert into meta.load_run (source, period, files, started_at, status)
            values (%s, %s, %s, %s, 'loading') returning load_id
            """,
            (batch.source, batch.period, batch.files, started),
        ).fetchone()[0]
        target = sql.SQL(", ").join(sql.Identifier(c) for c in (*batch.columns, *LINEAGE))
        copy = sql.SQL("copy {} ({}) from stdin").format(table, target)
        published = batch.published_on.isoformat() if batch.published_on else "\\N"
        tail = (f"{load_id}\t{batch.period.translate(_ESCAPE)}", published)
        try:
            with conn.cursor() as cur, cur.copy(copy) as cp:
                for text in _copy_text(batch.rows, tail):
                    cp.write(text)
        except psycopg.errors.DataError as exc:
            raise LoadError(_located(exc, batch)) from exc
        if batch.rejected:
            with conn.cursor() as cur, cur.copy(
                "copy meta.quarantine (load_id, source, period, file_name, row_number, "
                "column_name, value, reason, record) from stdin"
            ) as cp:
                for r in batch.rejected:
                    cp.write_row((
                        load_id, batch.source, batch.period, r.file_name, r.row_number, r.column,
                        r.value, r.reason, json.dumps(r.record, default=str) if r.record else None,
                    ))
        conn.execute(
            """
            update meta.load_run
               set finished_at = now(), rows_read = %s, rows_loaded = %s,
                   rows_quarantined = %s, notes_skipped = %s, status = 'loaded', message = %s
             where load_id = %s
            """,
            (batch.rows_read, len(batch.rows), len(batch.rejected), batch.notes_skipped,
             "\n".join(batch.notices) or None, load_id),
        )
    return LoadResult(batch.source, batch.period, load_id, batch.rows_read, len(batch.rows), len(batch.rejected),
                      tuple(batch.notices))


# -- what the loads left, read back for the console ---------------------------------------------
def _meta_table(conn, table: str) -> bool:
    return conn.execute("select to_regclass(%s)", (f"meta.{table}",)).fetchone()[0] is not None


def anything_loaded(dsn: str) -> bool:
    """Whether any load into ``raw`` ever succeeded (a ``loaded`` row of ``meta.load_run``)."""
    from sinfonia import db

    with db.connect(dsn, autocommit=True) as conn:
        return _meta_table(conn, "load_run") and conn.execute(
            "select exists (select from meta.load_run where status = 'loaded')").fetchone()[0]


def last_load(dsn: str) -> int:
    """The last load run's id in ``meta.load_run`` (0 when none): the loads after it are a new run's."""
    from sinfonia import db

    with db.connect(dsn, autocommit=True) as conn:
        if not _meta_table(conn, "load_run"):
            return 0
        return conn.execute("select coalesce(max(load_id), 0) from meta.load_run").fetchone()[0]


def quarantined_since(dsn: str, after: int) -> list[tuple[str, str, int]]:
    """The rows the loads after ``after`` set aside in ``meta.quarantine``: (source, reason, rows),
    per source the most frequent reason first."""
    from sinfonia import db

    with db.connect(dsn, autocommit=True) as conn:
        if not _meta_table(conn, "quarantine"):
            return []
        return conn.execute("""select source, reason, count(*) from meta.quarantine where load_id > %s
                               group by 1, 2 order by 1, 3 desc, 2""", (after,)).fetchall()
