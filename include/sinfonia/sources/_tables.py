"""Reading published tables whatever their layout: header rows and columns found by name.

Publishers move header rows between years, add title rows, merged group rows and footnotes,
misspell headers and add trailing spaces. Everything here matches on ``normalise``d names
(no accents, lowercase, single spaces, footnote marks like ``7/`` removed) and never on position.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator


class SourceFormatError(ValueError):
    """A file whose layout cannot be understood (names the file and what was expected)."""


def normalise(text: object) -> str:
    """Lower-case ASCII words of a header or a name, for matching ('Código DANE' → 'codigo dane')."""
    return _normalise("" if text is None else str(text))


@lru_cache(maxsize=1 << 16)  # the same few thousand names and statuses recur on every row
def _normalise(s: str) -> str:
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    s = s.lower().replace("\n", " ")
    s = re.sub(r"\b\d+\s*/", " ", s)  # footnote marks: '1/ Autofinanciación', 'Fiscal 7/'
    s = re.sub(r"[^a-z0-9%+()<>=.\- ]", " ", s)
    return re.sub(r"\s+", " ", s).strip()


def cell_text(value: object) -> str | None:
    """A cell as published, as text (None when empty). Floats that are integers lose the '.0'."""
    if value is None:
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    s = str(value).strip()
    return s or None


def dane_code(value: object, digits: int = 5) -> str | None:
    """A DANE code as zero-padded text, or None when the value is not a code."""
    s = cell_text(value)
    if s is None:
        return None
    s = s.strip().lstrip("'")
    if re.fullmatch(r"\d+\.0+", s):
        s = s.split(".")[0]
    if not re.fullmatch(r"\d{1,%d}" % digits, s):
        return None
    return s.zfill(digits)


def number_text(value: object) -> str | None:
    """A numeric cell as canonical text ('.' decimal), or None when it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return cell_text(value)
    s = cell_text(value)
    if s is None:
        return None
    s = s.replace(" ", "")
    if s.isascii() and s.isdigit():  # most cells: a plain count, read as it is
        return s
    if re.fullmatch(r"-?\d{1,3}(\.\d{3})+,\d+", s):  # 1.234,5
        s = s.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"-?\d+,\d+", s):  # decimal comma
        s = s.replace(",", ".")
    try:
        float(s)
    except ValueError:
        return None
    return s


@dataclass(frozen=True)
class Column:
    """A column to find: its raw name and the normalised header texts that identify it."""

    name: str
    aliases: tuple[str, ...]
    required: bool = True
    prefix: bool = False  # aliases match the start of the header (years in headers drift)

    def matches(self, header: str) -> bool:
        if self.prefix:
            return any(header.startswith(a) for a in self.aliases)
        return header in self.aliases


@dataclass(frozen=True)
class Contains(Column):
    """A column whose normalised header contains one of the aliases (long titles that drift)."""

    def matches(self, header: str) -> bool:
        return any(a in header for a in self.aliases)


@dataclass
class Table:
    """Rows under a found header: ``records`` yield (excel_row_number, {column: value})."""

    file_name: str
    sheet: str | None
    header_row: int
    positions: dict[str, int]
    rows: list[tuple[int, tuple]]

    def records(self) -> Iterator[tuple[int, dict[str, object]]]:
        for number, values in self.rows:
            yield number, {
                name: (values[i] if i < len(values) else None) for name, i in self.positions.items()
            }


def locate_header(
    rows: list[tuple], columns: Iterable[Column], file_name: str, sheet: str | None = None,
    scan: int = 30,
) -> tuple[int, dict[str, int]]:
    """Find the header row (0-based index) and each column's position, by name."""
    columns = list(columns)
    best: tuple[int, int, dict[str, int]] | None = None
    for idx, row in enumerate(rows[:scan]):
        headers = [normalise(v) for v in row]
        found: dict[str, int] = {}
        for col in columns:
            for pos, h in enumerate(headers):
                if h and col.matches(h) and pos not in found.values():
                    found[col.name] = pos
                    break
        score = sum(1 for c in columns if c.required and c.name in found)
        if best is None or score > best[0]:
            best = (score, idx, found)
    where = f"{file_name}" + (f", sheet {sheet!r}" if sheet else "")
    if best is None or best[0] == 0:
        raise SourceFormatError(
            f"{where}: no header row found in the first {scan} rows; expected columns "
            + ", ".join(repr(c.aliases[0]) for c in columns if c.required)
        )
    missing = [c for c in columns if c.required and c.name not in best[2]]
    if missing:
        raise SourceFormatError(
            f"{where}: header row {best[1] + 1} lacks "
            + ", ".join(f"{c.name} (one of {list(c.aliases)})" for c in missing)
        )
    return best[1], best[2]


def read_xlsx_sheets(path: Path) -> dict[str, list[tuple]]:
    """All sheets of a workbook as lists of row tuples (values, not formulas)."""
    import zipfile

    import openpyxl

    check_not_empty_or_html(path, "an Excel workbook (.xlsx)")
    import zlib

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
        finally:
            wb.close()
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError, ValueError) as exc:
        raise SourceFormatError(
            f"{Path(path).name}: not a readable Excel workbook ({type(exc).__name__}: {exc}); "
            "expected a complete .xlsx file (truncated or corrupt download?)"
        ) from exc


def check_not_empty_or_html(path: Path, expected: str) -> None:
    """An empty file, or an HTML page saved under a data file's name, is a clear error."""
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(512)
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise SourceFormatError(f"{path.name}: empty file; expected {expected}")
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype", b"<html", b"<head", b"<body")):
        raise SourceFormatError(
            f"{path.name}: an HTML page, not {expected} (an error page saved instead of the file?)"
        )


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252/Latin-1."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def read_csv_rows(path: Path) -> list[tuple]:
    """A delimited text file as row tuples; the delimiter (',' ';' tab '|') is sniffed."""
    check_not_empty_or_html(path, "a delimited text file (CSV)")
    text = decode_text(Path(path).read_bytes())
    first = text.split("\n", 1)[0]
    delimiter = max([",", ";", "\t", "|"], key=first.count)
    return [tuple(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


def read_table(
    path: Path, columns: list[Column], sheet: str | None = None
) -> Table:
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        sheets = read_xlsx_sheets(path)
        name = sheet or next(iter(sheets))
        if name not in sheets:
            raise SourceFormatError(f"{path.name}: no sheet {name!r} (sheets: {list(sheets)})")
        rows = sheets[name]
    else:
        name, rows = None, read_csv_rows(path)
    return table_from_rows(path.name, name, rows, columns)


def table_from_rows(file_name: str, sheet: str | None, rows: list[tuple], columns: list[Column]) -> Table:
    header, positions = locate_header(rows, columns, file_name, sheet)
    body = [
        (header + 2 + i, row)  # 1-based spreadsheet row number
        for i, row in enumerate(rows[header + 1:])
        if any(cell_text(v) is not None for v in row)
    ]
    return Table(file_name, sheet, header + 1, positions, body)

