"""What every parser owes the person loading a file, written once: the row contract (each
source declares its fields once: key, kind, published range; ``RowContract`` turns records into
loaded or quarantined rows with one wording per rule) and the account of its columns.

- No optional column disappears without a word: each column of a source's contract that a file's
  header does not supply is named in the load's message (``meta.load_run.message`` and the
  extract's output), with the header that would have supplied it.
- A column recognised in the header whose published values all fail to map (every cell filled,
  nothing loaded) is an error naming the file, the column, the header and the first value: a
  silent column of NULLs is exactly the loss this rule is there to prevent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime
from enum import Enum

from sinfonia.ingest.loading import Batch
from sinfonia.ingest.tables import (
    SourceFormatError,
    Table,
    cell_text,
    check_scale,
    municipality_code,
    normalise,
    number_text,
    scale_problem,
    year_of,
)


def account_for_columns(batch: Batch, table: Table) -> None:
    """After ``table``'s rows are in ``batch``: the notice for every optional column the file
    lacks, and the error for a recognised column none of whose published values loaded."""
    batch.note_headers(table.file_name, table.headers)
    missing = [name for name in table.missing if name in batch.columns]
    if missing:
        batch.notices.append(
            f"{table.where}: no column for " + ", ".join(f"{n} (a header such as {table.missing[n]!r})"
                                                          for n in missing)
            + ("; loaded without it" if len(missing) == 1 else "; loaded without them") + " (empty in raw)")
    rows = [r for r in batch.rows if r[0] == table.file_name]
    if not rows:
        return
    for name in table.positions:
        if name not in batch.columns:
            continue
        at = 2 + batch.columns.index(name)
        if any(r[at] is not None for r in rows):
            continue
        published = [(n, rec[name]) for n, rec in table.records() if cell_text(rec[name]) is not None]
        if published:
            row, value = published[0]
            raise SourceFormatError(
                f"{table.where}, column {table.headers[name]!r} (read as {name}): none of its {len(published)} "
                f"published values could be loaded (first at row {row}: {cell_text(value)!r}); expected "
                f"values this source publishes for {name}. Nothing was loaded.")


# --- the row contract ---------------------------------------------------------------------------

class Kind(Enum):
    CODE = "municipality code"  # a DIVIPOLA municipality code, read by the one strict parser
    NUMBER = "number"
    YEAR = "year"
    DATE = "date"
    TEXT = "text"
    ENUM = "enumeration"


@dataclass(frozen=True)
class Field:
    """A column of a source's rows: its raw name, kind, whether it is (part of) the key, whether a
    row needs it, and the published range (numbers) or values (enumerations, normalised → loaded)."""

    name: str
    kind: Kind = Kind.TEXT
    key: bool = False
    required: bool = False
    range: tuple[float, float] | None = None
    values: Mapping[str, str] | None = None


# One wording per rule.
EMPTY = "empty: expected a {kind}"
NOT_A_NUMBER = "expected a number"
NOT_A_DATE = "expected a date (dd/mm/yyyy or yyyy-mm-dd)"
NOT_ONE_OF = "expected one of {values}"
DUPLICATE = "duplicate {key} {value}: first at {first}"


def _date(value: object) -> tuple[str | None, str | None]:
    if isinstance(value, datetime):
        return value.date().isoformat(), None
    if isinstance(value, date):
        return value.isoformat(), None
    text = cell_text(value) or ""
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date().isoformat(), None
        except ValueError:
            continue
    return None, NOT_A_DATE


@dataclass
class RowContract:
    """Turns records into loaded values or quarantined rows, the same way for every source:
    ``row`` returns the values by field name, or None when the row was quarantined (in ``batch``,
    with the published header, the value and the rule's one wording); ``finish`` then refuses a
    column out of its published range in more than 1 % of its values (a scale error)."""

    fields: tuple[Field, ...]
    seen: dict[tuple, tuple[str, int]] = dc_field(default_factory=dict)
    outside: dict[str, list[tuple[int, str]]] = dc_field(default_factory=dict)
    read: dict[str, int] = dc_field(default_factory=dict)

    def _value(self, f: Field, raw: object) -> tuple[str | None, str | None]:
        if f.kind is Kind.CODE:
            return municipality_code(raw)
        if f.kind is Kind.NUMBER:
            number = number_text(raw)
            if number is None:
                return None, NOT_A_NUMBER
            self.read[f.name] = self.read.get(f.name, 0) + 1
            if f.range and not f.range[0] <= float(number) <= f.range[1]:
                return None, scale_problem(*f.range)
            return number, None
        if f.kind is Kind.YEAR:
            return year_of(raw)
        if f.kind is Kind.DATE:
            return _date(raw)
        if f.kind is Kind.ENUM:
            loaded = (f.values or {}).get(normalise(raw))
            if loaded is None:
                return None, NOT_ONE_OF.format(values=", ".join(sorted(set((f.values or {}).values()))))
            return loaded, None
        return cell_text(raw), None

    def row(self, batch: Batch, table: Table, row_number: int, rec: dict[str, object],
            record: dict | None = None) -> dict[str, str | None] | None:
        record = record if record is not None else {table.headers.get(k, k): cell_text(v) for k, v in rec.items()}
        out: dict[str, str | None] = {}
        for f in self.fields:
            raw = rec.get(f.name)
            header = table.headers.get(f.name, f.name)
            if cell_text(raw) is None:
                if f.required:
                    batch.reject(table.file_name, row_number, header, None, EMPTY.format(kind=f.kind.value), record)
                    return None
                out[f.name] = None
                continue
            value, problem = self._value(f, raw)
            if problem:
                if f.range and problem == scale_problem(*f.range):
                    self.outside.setdefault(f.name, []).append((row_number, number_text(raw)))
                batch.reject(table.file_name, row_number, header, cell_text(raw), problem, record)
                return None
            out[f.name] = value
        keys = [f for f in self.fields if f.key]
        if keys:
            key = tuple(out[f.name] for f in keys)
            if key in self.seen:
                file_name, first = self.seen[key]
                where = f"row {first}" if file_name == table.file_name else f"{file_name} row {first}"
                batch.reject(table.file_name, row_number, table.headers.get(keys[0].name, keys[0].name),
                             "/".join(str(k) for k in key),
                             DUPLICATE.format(key=" and ".join(f.kind.value if f.kind is not Kind.TEXT else f.name
                                                                for f in keys),
                                              value="/".join(str(k) for k in key), first=where), record)
                return None
            self.seen[key] = (table.file_name, row_number)
        return out

    def finish(self, batch: Batch, table: Table) -> None:
        """The scale check of every ranged number, then ``account_for_columns``."""
        for f in self.fields:
            if f.range and self.outside.get(f.name):
                check_scale(table.where, table.headers.get(f.name, f.name), f.range, self.outside[f.name],
                            self.read.get(f.name, 0) or batch.rows_read)
        account_for_columns(batch, table)
