"""Reading published tables whatever their layout: header rows and columns found by name.

Publishers move header rows between years, add title rows, merged group rows and footnotes,
misspell headers and add trailing spaces. Everything here matches on ``normalise``d names
(no accents, lowercase, single spaces, footnote marks like ``7/`` removed) and never on position.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from sinfonia.ingest.tables.cells import (
    HEADER_SCAN_ROWS,
    SourceFormatError,
    cell_text,
    column_letter,
    header_key,
    normalise,
)
from sinfonia.ingest.tables.readers import read_csv_rows, read_xlsx_sheets


@dataclass(frozen=True)
class Column:
    """A column to find: its raw name and the normalised header texts that identify it."""

    name: str
    aliases: tuple[str, ...]
    required: bool = True
    prefix: bool = False  # aliases match the start of the header (years in headers drift)

    def keys(self) -> tuple[str, ...]:
        return _alias_keys(self.aliases)

    def matches(self, header: str) -> bool:
        """``header`` is a ``header_key``; aliases are compared the same way."""
        if self.prefix:
            return any(header.startswith(a) for a in self.keys())
        return header in self.keys()


@cache
def _alias_keys(aliases: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(header_key(a) for a in aliases)


@dataclass(frozen=True)
class Contains(Column):
    """A column whose header contains one of the aliases (long titles that drift)."""

    def matches(self, header: str) -> bool:
        return any(a in header for a in self.keys())


@dataclass
class Table:
    """Rows under a found header: ``records`` yield (excel_row_number, {column: value}).

    ``headers`` holds each found column's header as published (whitespace collapsed) and
    ``above`` the rows above the header row (titles and metadata, where a period may be given).
    """

    file_name: str
    sheet: str | None
    header_row: int
    positions: dict[str, int]
    rows: list[tuple[int, tuple]]
    headers: dict[str, str] = field(default_factory=dict)
    above: list[tuple] = field(default_factory=list)
    # The optional columns looked for and not found in the header row (named in the load's message).
    missing: dict[str, str] = field(default_factory=dict)  # column -> the first header text expected

    @property
    def where(self) -> str:
        return self.file_name + (f", sheet {self.sheet!r}" if self.sheet else "")

    def records(self) -> Iterator[tuple[int, dict[str, object]]]:
        for number, values in self.rows:
            yield number, {
                name: (values[i] if i < len(values) else None) for name, i in self.positions.items()
            }


@dataclass
class _Header:
    required: int  # required columns found
    found: int  # all columns found
    index: int  # 0-based row index
    positions: dict[str, int]
    duplicates: list[tuple[str, int, int]]  # (column, first position, second position)
    # A header split over two rows (a group row 'Departamento | Municipio' above 'Código | Nombre'):
    # each position's header as shown in messages ('Departamento: Código'); None for one row.
    texts: list[str] | None = None




def _match_row(row: tuple, columns: list[Column], index: int,
               candidates: list[tuple[str, ...]] | None = None) -> _Header:
    """Which columns a header row holds. ``candidates``: the keys each position may be read as
    (a two-row header); by default, each cell's ``header_key``."""
    keys = candidates or [(header_key(v),) for v in row]
    headers = [k[0] for k in keys]
    found: dict[str, int] = {}
    for col in columns:
        for key in (col.keys() if type(col) is Column and not col.prefix else (None,)):
            for pos, hs in enumerate(keys):
                if hs[0] and pos not in found.values() and (
                        key in hs if key is not None else any(col.matches(h) for h in hs if h)):
                    found[col.name] = pos
                    break
            if col.name in found:
                break
    duplicates = [
        (name, pos, other) for name, pos in found.items()
        for other, h in enumerate(headers) if other != pos and h == headers[pos]
    ]
    required = sum(1 for c in columns if c.required and c.name in found)
    return _Header(required, len(found), index, found, duplicates)


def _two_row(group_row: tuple, row: tuple) -> tuple[list[tuple[str, ...]], list[str]]:
    """A group row above a header row, read together: a group cell covers the empty cells to its
    right (a merged cell) as long as the header row has cells under them; each position may be
    read as 'sub group', 'group sub' or the header row's cell alone ('Código' under
    'Departamento' is 'codigo departamento'); a group cell with nothing under it is read alone."""
    keys: list[tuple[str, ...]] = []
    texts: list[str] = []
    group = None
    for i in range(max(len(group_row), len(row))):
        g = cell_text(group_row[i]) if i < len(group_row) else None
        sub = cell_text(row[i]) if i < len(row) else None
        if g is not None:
            group = " ".join(g.split())
        elif sub is None:
            group = None
        if sub is None or group is None:
            keys.append((header_key(sub or group),))
            texts.append(" ".join((sub or group or "").split()))
        else:
            sub = " ".join(sub.split())
            keys.append((header_key(f"{sub} {group}"), header_key(f"{group} {sub}"), header_key(sub)))
            texts.append(f"{group}: {sub}")
    return keys, texts


def _best_header(rows: list[tuple], columns: list[Column], scan: int = HEADER_SCAN_ROWS) -> _Header | None:
    best: _Header | None = None
    for idx, row in enumerate(rows[:scan]):
        h = _match_row(row, columns, idx)
        if idx and any(cell_text(v) is not None for v in rows[idx - 1]):
            keys, texts = _two_row(rows[idx - 1], row)
            two = _match_row(row, columns, idx, keys)
            if (two.found, two.required) > (h.found, h.required):  # only when the group row adds columns
                two.texts, h = texts, two
        # most columns first: a data row whose one cell happens to read like a header (the entity
        # type 'Municipio') never outranks the real header row, even one that lacks a required column
        if best is None or (h.found, h.required) > (best.found, best.required):
            best = h
    return best


def _check_header(h: _Header | None, rows: list[tuple], columns: list[Column], where: str, scan: int) -> None:
    if h is None or h.found == 0:
        raise SourceFormatError(
            f"{where}: no header row found in the first {scan} rows; expected columns "
            + ", ".join(repr(c.aliases[0]) for c in columns if c.required)
        )
    missing = [c for c in columns if c.required and c.name not in h.positions]
    if missing:
        raise SourceFormatError(
            f"{where}: header row {h.index + 1} lacks "
            + ", ".join(f"{c.name} (one of {list(c.aliases)})" for c in missing)
        )
    for name, first, second in h.duplicates:
        # the same column twice (the code as a number in one, as text in the other) is accepted
        # when every row agrees; the first row that disagrees is named
        first, second = sorted((first, second))
        disagree = next(((i, row) for i, row in enumerate(rows[h.index + 1:], start=h.index + 2)
                         if not _same(row[first] if first < len(row) else None,
                                      row[second] if second < len(row) else None)), None)
        if disagree is None:
            continue
        i, row = disagree
        text = h.texts[first] if h.texts else " ".join(str(rows[h.index][first]).split())
        raise SourceFormatError(
            f"{where}: header row {h.index + 1} has {text!r} twice, in columns {column_letter(first)} "
            f"and {column_letter(second)}, and they disagree at row {i} ({cell_text(row[first])!r} and "
            f"{cell_text(row[second] if second < len(row) else None)!r}); expected one {name} column "
            "(rename or delete the other one)"
        )


def _same(a: object, b: object) -> bool:
    """Two cells holding the same value, whatever their type (5001, 5001.0, '05001')."""
    x, y = cell_text(a), cell_text(b)
    if x == y:
        return True
    if x is None or y is None:
        return False
    x, y = x.lstrip("'").strip(), y.lstrip("'").strip()
    if x.isdigit() and y.isdigit():
        return x.lstrip("0") == y.lstrip("0")
    return normalise(x) == normalise(y)


def locate_header(
    rows: list[tuple], columns: Iterable[Column], file_name: str, sheet: str | None = None,
    scan: int = HEADER_SCAN_ROWS,
) -> tuple[int, dict[str, int]]:
    """Find the header row (0-based index) and each column's position, by name.

    Headers are compared as ``header_key``s. A required column missing, or a header of a
    needed column present twice, is an error naming the file, sheet, row and columns."""
    columns = list(columns)
    h = _locate(rows, columns, file_name, sheet, scan)
    return h.index, h.positions


def _locate(rows: list[tuple], columns: list[Column], file_name: str, sheet: str | None, scan: int) -> _Header:
    h = _best_header(rows, columns, scan)
    _check_header(h, rows, columns, file_name + (f", sheet {sheet!r}" if sheet else ""), scan)
    return h


def find_tables(file_name: str, sheets: dict[str, list[tuple]], columns: list[Column],
                scan: int = HEADER_SCAN_ROWS) -> list[Table]:
    """The sheets holding the table, by content, whatever their names: every sheet whose header
    row has all required columns and as many of the others as the best one (a ranking sheet
    repeating code, name and score is not the data sheet beside it)."""
    found: list[tuple[str, _Header]] = []
    for name, rows in sheets.items():
        h = _best_header(rows, columns, scan)
        if h is not None and h.required == sum(1 for c in columns if c.required):
            found.append((name, h))
    if not found:
        reasons = []
        for name, rows in sheets.items():
            try:
                _check_header(_best_header(rows, columns, scan), rows, columns, f"sheet {name!r}", scan)
            except SourceFormatError as exc:
                reasons.append(str(exc))
        raise SourceFormatError(
            f"{file_name}: no sheet has a header row with the columns "
            + ", ".join(f"{c.name} ({c.aliases[0]!r})" for c in columns if c.required)
            + " (" + "; ".join(reasons) + ")"
        )
    top = max(h.found for _, h in found)
    tables = []
    for name, h in found:
        if h.found == top:
            _check_header(h, sheets[name], columns, f"{file_name}, sheet {name!r}", scan)
            tables.append(_table(file_name, name, sheets[name], h.index, h.positions, columns, h.texts))
    return tables


def find_table(file_name: str, sheets: dict[str, list[tuple]], columns: list[Column]) -> Table:
    """The one sheet holding the table (the first, when several have the same columns)."""
    return find_tables(file_name, sheets, columns)[0]


def read_table(
    path: Path, columns: list[Column], sheet: str | None = None, data: bytes | None = None
) -> Table:
    """The table of a workbook (found by content in any sheet, unless ``sheet`` names one) or
    of a delimited text file; ``data``: the file's bytes, already read (not read again)."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        sheets = read_xlsx_sheets(path, data)
        if sheet is None:
            return find_table(path.name, sheets, columns)
        if sheet not in sheets:
            raise SourceFormatError(f"{path.name}: no sheet {sheet!r} (sheets: {list(sheets)})")
        return table_from_rows(path.name, sheet, sheets[sheet], columns)
    return table_from_rows(path.name, None, read_csv_rows(path, data), columns)


def table_from_rows(file_name: str, sheet: str | None, rows: list[tuple], columns: list[Column]) -> Table:
    columns = list(columns)
    h = _locate(rows, columns, file_name, sheet, HEADER_SCAN_ROWS)
    return _table(file_name, sheet, rows, h.index, h.positions, columns, h.texts)


def _table(file_name: str, sheet: str | None, rows: list[tuple], header: int, positions: dict[str, int],
           columns: Iterable[Column] = (), texts: list[str] | None = None) -> Table:
    body = [
        (header + 2 + i, row)  # 1-based spreadsheet row number
        for i, row in enumerate(rows[header + 1:])
        if any(cell_text(v) is not None for v in row)
    ]
    headers = {c: texts[i] if texts else " ".join(str(rows[header][i]).split()) for c, i in positions.items()}
    missing = {c.name: c.aliases[0] for c in columns if c.name not in positions}
    return Table(file_name, sheet, header + 1, positions, body, headers, list(rows[:header]), missing)


def holds_departments(table: Table, column: str) -> bool:
    """True when most codes of ``column`` are departments ('05', '05000', CGN's 110505000): a
    departmental sheet beside the municipal one, not this source's rows."""
    codes = [re.sub(r"\.0+$", "", cell_text(rec[column]) or "") for _, rec in table.records()]
    codes = [c for c in codes if c.isdigit()]
    departments = sum(len(c) <= 2 or (len(c) >= 5 and c.endswith("000")) for c in codes)
    return bool(codes) and departments > len(codes) / 2
