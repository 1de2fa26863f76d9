"""What every parser owes the person loading a file, written once: the row contract (each
source declares its fields once: key, kind, published range; ``RowContract`` turns records into
loaded or quarantined rows with one wording per rule) and the account of its columns.

The rules and their one wording: a required cell left empty (``empty: expected a number``); a
municipality code read by the one strict parser (``tables.municipality_code``: not a DIVIPOLA
municipality, and why); not a number / not an integer; outside the published range (``0–100``,
``≥ 0``); not a date; not one of an enumeration's published values; a duplicate key, naming the
row of the first (``duplicate municipality code 05001: first at row 8``). What a parser reads its
own way (a published statement recorded as missing, a CGN entity code, population groups) it
declares as the field's ``convert`` or settles as ``given``; rules between fields stay its own,
between ``RowContract.check`` and ``RowContract.keep``.

- No optional column disappears without a word: each column of a source's contract that a file's
  header does not supply is named in the load's message (``meta.load_run.message`` and the
  extract's output), with the header that would have supplied it.
- A column recognised in the header whose published values all fail to map (every cell filled,
  nothing loaded) is an error naming the file, the column, the header and the first value: a
  silent column of NULLs is exactly the loss this rule is there to prevent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime
from enum import Enum
from functools import lru_cache

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
    rows = [r for r in batch.rows if r[0] == table.file_name]
    # a column the file lacks but the parser filled anyway (a code resolved from names) is not lost
    missing = [name for name in table.missing if name in batch.columns
               and not any(r[2 + batch.columns.index(name)] is not None for r in rows)]
    if missing:
        batch.notices.append(
            f"{table.where}: no column for " + ", ".join(f"{n} (a header such as {table.missing[n]!r})"
                                                          for n in missing)
            + ("; loaded without it" if len(missing) == 1 else "; loaded without them") + " (empty in raw)")
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
    INTEGER = "integer"  # a count or a score in whole units
    YEAR = "year"
    DATE = "date"
    TEXT = "text"
    ENUM = "enumeration"


@dataclass(frozen=True)
class Field:
    """A column of a source's rows: its raw name, kind, whether it is (part of) the key, whether a
    row needs it, and the published range (numbers: ``(low, high)``, ``high`` None when open) or
    values (enumerations: each published form → the value loaded; matched as ``normalise``d).

    ``fold``: a key part compared as normalised text (case, accents and spacing aside).
    ``sensitive``: person-level; its value is never written to the quarantine (nor its key's).
    ``scale``: a ranged number out of range in more than 1 % of its values refuses the file (a
    scale error, ``check_scale``); without it every such value is only quarantined.
    ``convert``: the source's own reading of the cell (its methodology): (value, None) or (None,
    why not), as ``tables.municipality_code`` answers (a ``ValueError`` raised is a why not too);
    with ``required`` it is also asked what an empty cell lacks.
    ``header``: how the quarantine names the column when not by the file's header.
    ``statements``: texts the source publishes in a number's place (read by the parser as missing),
    named in the reason of a text that is neither."""

    name: str
    kind: Kind = Kind.TEXT
    key: bool = False
    required: bool = False
    range: tuple[float, float | None] | None = None
    values: Mapping[str, str] | None = None
    fold: bool = False
    sensitive: bool = False
    scale: bool = True
    convert: Callable[[object], tuple[str | None, str | None]] | None = None
    header: str | None = None
    statements: tuple[str, ...] = ()


# One wording per rule.
EMPTY = "empty: expected {what}"
NOT_A_NUMBER = "expected a number"
NOT_AN_INTEGER = "expected an integer"
NOT_A_DATE = "expected a date dd/mm/yyyy or yyyy-mm-dd"
NOT_ONE_OF = "expected one of {values}"
DUPLICATE = "duplicate {key}{value}: first at {first}"
DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d")
_WHAT = {Kind.CODE: "a municipality code", Kind.NUMBER: "a number", Kind.INTEGER: "an integer",
         Kind.YEAR: "a year", Kind.DATE: "a date", Kind.TEXT: "a value"}

Problem = tuple[str, "str | None", str]  # (column as published, value, reason)


def out_of_range(bounds: tuple[float, float | None]) -> str:
    """The wording of a value outside its published range (``scale_problem`` when it is closed)."""
    low, high = bounds
    return scale_problem(low, high) if high is not None else f"outside the published range ≥ {low:g}"


def in_range(number: str, bounds: tuple[float, float | None]) -> bool:
    low, high = bounds
    return low <= float(number) and (high is None or float(number) <= high)


def read_date(value: object) -> tuple[str | None, str | None]:
    """(ISO date, None) or (None, ``NOT_A_DATE``) for a date cell (a workbook date or text in one
    of ``DATE_FORMATS``)."""
    if isinstance(value, datetime):
        return value.date().isoformat(), None
    if isinstance(value, date):
        return value.isoformat(), None
    return _date_text(cell_text(value) or "")


@lru_cache(maxsize=1 << 14)  # a few thousand distinct dates per export, each on many rows
def _date_text(text: str) -> tuple[str | None, str | None]:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date().isoformat(), None
        except ValueError:
            continue
    return None, NOT_A_DATE


def duplicate(what: str, value: str | None, first: str) -> str:
    """The one wording of a duplicate key: what the key is, its value (None: withheld) and where
    the first row with it is."""
    return DUPLICATE.format(key=what, value="" if value is None else f" {value}", first=first)


def record_of(table: Table, rec: dict[str, object]) -> dict[str, str | None]:
    """A row as published (header → text), kept with its quarantine."""
    return {table.headers.get(k, k): cell_text(v) for k, v in rec.items()}


def first_at(file_name: str, sheet: str | None, row: int, here_file: str, here_sheet: str | None) -> str:
    """Where the first row with a key is, as short as the reader needs it."""
    if file_name != here_file:
        return f"{file_name} row {row}"
    return f"row {row}" if sheet == here_sheet else f"sheet {sheet!r} row {row}"


@dataclass
class RowContract:
    """Turns records into loaded values or quarantined rows, the same way for every source.

    ``row`` returns the values by field name, or None when the row was quarantined (in ``batch``,
    with the published header, the value and the rule's one wording); ``check`` and ``keep`` are
    its two halves for a parser with rules of its own between them (the row's problem is returned,
    the key is recorded only once the row is kept); ``finish`` then refuses a column out of its
    published range in more than 1 % of its values (a scale error) and accounts for the columns."""

    fields: tuple[Field, ...]
    seen: dict[tuple, tuple[str, str | None, int]] = dc_field(default_factory=dict)
    outside: dict[str, list[tuple[int, str]]] = dc_field(default_factory=dict)
    read: dict[str, int] = dc_field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keys = tuple(f for f in self.fields if f.key)
        self.enums = {f.name: {normalise(k): v for k, v in (f.values or {}).items()} for f in self.fields
                      if f.kind is Kind.ENUM}

    def _value(self, f: Field, raw: object) -> tuple[str | None, str | None]:
        """(value as loaded, None) or (None, the rule's wording) for one filled cell of ``f``."""
        if f.convert is not None:
            try:
                return f.convert(raw)
            except ValueError as exc:
                return None, str(exc)
        if f.kind is Kind.CODE:
            return municipality_code(raw)
        if f.kind in (Kind.NUMBER, Kind.INTEGER):
            number = number_text(raw)
            if number is None:
                why = NOT_A_NUMBER if f.kind is Kind.NUMBER else NOT_AN_INTEGER
                return None, why + (f" or a statement it publishes ({', '.join(map(repr, f.statements))})"
                                    if f.statements else "")
            if f.kind is Kind.INTEGER:
                if float(number) != int(float(number)):
                    return None, NOT_AN_INTEGER
                number = str(int(float(number)))
            self.read[f.name] = self.read.get(f.name, 0) + 1
            if f.range and not in_range(number, f.range):
                return None, out_of_range(f.range)
            return number, None
        if f.kind is Kind.YEAR:
            return year_of(raw)
        if f.kind is Kind.DATE:
            return read_date(raw)
        if f.kind is Kind.ENUM:
            loaded = self.enums[f.name].get(normalise(raw))
            if loaded is None:
                published = {}
                for form, v in (f.values or {}).items():
                    published.setdefault(v, form)
                return None, NOT_ONE_OF.format(values=", ".join(published.values()))
            return loaded, None
        return cell_text(raw), None

    def header(self, f: Field, table: Table) -> str:
        return f.header or table.headers.get(f.name, f.name)

    def key_of(self, out: dict[str, str | None]) -> tuple:
        return tuple(normalise(out[f.name]) if f.fold else out[f.name] for f in self.keys)

    def check(self, table: Table, row_number: int, rec: dict[str, object],
              given: dict[str, str | None] | None = None) -> tuple[dict[str, str | None], Problem | None]:
        """The row's values by field name (those read so far when it fails) and its first problem.
        ``given``: values the parser settled by rules of its own (a published statement recorded
        as missing), taken as they are."""
        out: dict[str, str | None] = {}
        for f in self.fields:
            if given and f.name in given:
                out[f.name] = given[f.name]
                continue
            raw = rec.get(f.name)
            if cell_text(raw) is None:
                out[f.name] = None
                if not f.required:
                    continue
                if f.convert is not None:  # the source's own reading says what an empty cell lacks
                    problem = self._value(f, None)[1] or EMPTY.format(what=_WHAT[Kind.TEXT])
                elif f.kind is Kind.ENUM:
                    problem = "empty: " + (self._value(f, "")[1] or "")
                else:
                    problem = EMPTY.format(what=_WHAT[f.kind])
                return out, (self.header(f, table), None, problem)
            value, problem = self._value(f, raw)
            if problem:
                if f.range and problem == out_of_range(f.range):
                    self.outside.setdefault(f.name, []).append((row_number, number_text(raw)))
                return out, (self.header(f, table), None if f.sensitive else cell_text(raw), problem)
            out[f.name] = value
        if self.keys and (key := self.key_of(out)) in self.seen:
            file_name, sheet, first = self.seen[key]
            sensitive = any(f.sensitive for f in self.keys)
            value = None if sensitive else "/".join(str(out[f.name]) for f in self.keys)
            what = ", ".join(f.kind.value if f.kind is Kind.CODE else self.header(f, table) for f in self.keys)
            what = " and ".join(what.rsplit(", ", 1))
            return out, (self.header(self.keys[-1], table), value,
                         duplicate(what, value, first_at(file_name, sheet, first, table.file_name, table.sheet)))
        return out, None

    def keep(self, table: Table, row_number: int, out: dict[str, str | None]) -> None:
        """Record a kept row's key: a later row with it is a duplicate naming this one."""
        if self.keys:
            self.seen.setdefault(self.key_of(out), (table.file_name, table.sheet, row_number))

    def row(self, batch: Batch, table: Table, row_number: int, rec: dict[str, object],
            record: dict | None = None, given: dict[str, str | None] | None = None) -> dict[str, str | None] | None:
        out, problem = self.check(table, row_number, rec, given)
        if problem:
            batch.reject(table.file_name, row_number, *problem, record_of(table, rec) if record is None else record)
            return None
        self.keep(table, row_number, out)
        return out

    def finish(self, batch: Batch, table: Table) -> None:
        """The scale check of every ranged number, then ``account_for_columns``."""
        self.check_scales(batch, table)
        account_for_columns(batch, table)

    def check_scales(self, batch: Batch, table: Table) -> None:
        """Refuse the file when a ranged number is out of its range in more than 1 % of its values."""
        for f in self.fields:
            if f.range and f.scale and self.outside.get(f.name):
                check_scale(table.where, self.header(f, table), f.range, self.outside[f.name],
                            self.read.get(f.name, 0) or batch.rows_read)
