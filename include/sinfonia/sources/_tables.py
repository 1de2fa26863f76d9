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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path


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


# Abbreviations publishers use in headers, expanded before matching ('Cod. Departamento').
ABBREVIATIONS = {
    "cod": "codigo", "cdgo": "codigo", "dpto": "departamento", "depto": "departamento",
    "mpio": "municipio", "munic": "municipio", "nom": "nombre", "no": "numero", "nro": "numero",
    "num": "numero", "anio": "ano", "cat": "categoria", "pob": "poblacion",
}


def header_key(text: object) -> str:
    """A header as matched: ``normalise``d, dots, dashes and underscores as spaces, common
    abbreviations expanded ('Cod. Departamento' → 'codigo departamento', 'nom_mpio' →
    'nombre municipio')."""
    return _header_key("" if text is None else str(text))


@lru_cache(maxsize=1 << 12)
def _header_key(s: str) -> str:
    words = re.sub(r"[.\-]", " ", normalise(s)).split()
    return " ".join(ABBREVIATIONS.get(w, w) for w in words)


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
    if not re.fullmatch(rf"\d{{1,{digits}}}", s):
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

    @property
    def where(self) -> str:
        return self.file_name + (f", sheet {self.sheet!r}" if self.sheet else "")

    def records(self) -> Iterator[tuple[int, dict[str, object]]]:
        for number, values in self.rows:
            yield number, {
                name: (values[i] if i < len(values) else None) for name, i in self.positions.items()
            }


def column_letter(position: int) -> str:
    """0-based position → spreadsheet column letter (0 → A, 27 → AB)."""
    letters = ""
    n = position + 1
    while n:
        n, r = divmod(n - 1, 26)
        letters = chr(65 + r) + letters
    return letters


@dataclass
class _Header:
    required: int  # required columns found
    found: int  # all columns found
    index: int  # 0-based row index
    positions: dict[str, int]
    duplicates: list[tuple[str, int, int]]  # (column, first position, second position)


SCAN_ROWS = 40  # header rows sit within the first rows (row 17 in DNP's IDF export)


def _match_row(row: tuple, columns: list[Column], index: int) -> _Header:
    headers = [header_key(v) for v in row]
    found: dict[str, int] = {}
    for col in columns:
        for key in (col.keys() if type(col) is Column and not col.prefix else (None,)):
            for pos, h in enumerate(headers):
                if h and pos not in found.values() and (h == key if key is not None else col.matches(h)):
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


def _best_header(rows: list[tuple], columns: list[Column], scan: int = SCAN_ROWS) -> _Header | None:
    best: _Header | None = None
    for idx, row in enumerate(rows[:scan]):
        h = _match_row(row, columns, idx)
        if best is None or (h.required, h.found) > (best.required, best.found):
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
    if h.duplicates:
        name, first, second = h.duplicates[0]
        first, second = sorted((first, second))
        text = " ".join(str(rows[h.index][first]).split())
        raise SourceFormatError(
            f"{where}: header row {h.index + 1} has {text!r} twice, in columns {column_letter(first)} "
            f"and {column_letter(second)}; expected one {name} column (rename or delete the other one)"
        )


def locate_header(
    rows: list[tuple], columns: Iterable[Column], file_name: str, sheet: str | None = None,
    scan: int = SCAN_ROWS,
) -> tuple[int, dict[str, int]]:
    """Find the header row (0-based index) and each column's position, by name.

    Headers are compared as ``header_key``s. A required column missing, or a header of a
    needed column present twice, is an error naming the file, sheet, row and columns."""
    columns = list(columns)
    h = _best_header(rows, columns, scan)
    _check_header(h, rows, columns, file_name + (f", sheet {sheet!r}" if sheet else ""), scan)
    return h.index, h.positions


def find_tables(file_name: str, sheets: dict[str, list[tuple]], columns: list[Column],
                scan: int = SCAN_ROWS) -> list[Table]:
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
            tables.append(_table(file_name, name, sheets[name], h.index, h.positions))
    return tables


def find_table(file_name: str, sheets: dict[str, list[tuple]], columns: list[Column]) -> Table:
    """The one sheet holding the table (the first, when several have the same columns)."""
    return find_tables(file_name, sheets, columns)[0]



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
    """The table of a workbook (found by content in any sheet, unless ``sheet`` names one) or
    of a delimited text file."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        sheets = read_xlsx_sheets(path)
        if sheet is None:
            return find_table(path.name, sheets, columns)
        if sheet not in sheets:
            raise SourceFormatError(f"{path.name}: no sheet {sheet!r} (sheets: {list(sheets)})")
        return table_from_rows(path.name, sheet, sheets[sheet], columns)
    return table_from_rows(path.name, None, read_csv_rows(path), columns)


def table_from_rows(file_name: str, sheet: str | None, rows: list[tuple], columns: list[Column]) -> Table:
    header, positions = locate_header(rows, columns, file_name, sheet)
    return _table(file_name, sheet, rows, header, positions)


def _table(file_name: str, sheet: str | None, rows: list[tuple], header: int, positions: dict[str, int]) -> Table:
    body = [
        (header + 2 + i, row)  # 1-based spreadsheet row number
        for i, row in enumerate(rows[header + 1:])
        if any(cell_text(v) is not None for v in row)
    ]
    headers = {c: " ".join(str(rows[header][i]).split()) for c, i in positions.items()}
    return Table(file_name, sheet, header + 1, positions, body, headers, list(rows[:header]))


# --- periods --------------------------------------------------------------------------------

_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_LABELLED_YEAR = re.compile(r"^(?:ano|anio|vigencia|periodo|year)\s*:?\s*((?:19|20)\d\d)$")


def plausible_year_problem(year: int | str | None) -> str | None:
    """Why a year is not plausible for these sources (before 2000 or after next year), or None."""
    from datetime import date

    try:
        y = int(str(year).split(".")[0])
    except (TypeError, ValueError):
        return f"expected a year such as {date.today().year - 1}"
    latest = date.today().year + 1
    if not 2000 <= y <= latest:
        return f"year {y} outside the plausible range 2000–{latest}"
    return None


def year_in_name(name: str) -> int | None:
    """The one year a file or sheet name gives ('CT01 Categorizacion 2021.xlsx' → 2021); None
    when it gives none or several different ones."""
    years = {int(y) for y in _YEAR.findall(name)}
    return years.pop() if len(years) == 1 else None


def years_in_titles(rows: list[tuple]) -> dict[int, str]:
    """Years stated in title or metadata rows, with where: a cell that is a year ('2021'), a
    labelled year ('Vigencia 2018', 'Año 2024') or a label cell followed by a year cell
    ('Año' | 2024). Free text ('Ley 617 de 2000') is not read as a period."""
    found: dict[int, str] = {}
    for r, row in enumerate(rows, start=1):
        cells = [(i, cell_text(v)) for i, v in enumerate(row) if cell_text(v) is not None]
        for k, (i, text) in enumerate(cells):
            where = f"cell {column_letter(i)}{r} ({text!r})"
            key = normalise(text)
            m = _LABELLED_YEAR.match(key)
            if re.fullmatch(r"(19|20)\d\d(\.0+)?", text):
                found.setdefault(int(text.split(".")[0]), where)
            elif m:
                found.setdefault(int(m.group(1)), where)
            elif key in ("ano", "anio", "vigencia", "year") and k + 1 < len(cells):
                nxt = cells[k + 1][1]
                if re.fullmatch(r"(19|20)\d\d(\.0+)?", nxt):
                    found.setdefault(int(nxt.split(".")[0]), f"cells {column_letter(i)}{r}–"
                                     f"{column_letter(cells[k + 1][0])}{r} ({text!r} {nxt!r})")
    return found


def resolve_period(file_name: str, *, sheet: str | None = None, titles: list[tuple] = (),
                   given: str | int | None = None) -> int:
    """The period of a file that holds one: from its name, else a title or metadata cell (or the
    sheet's name), else ``given`` (``--year``). Every source that states one must agree: a
    conflict is an error naming both."""
    stated: list[tuple[int, str]] = []
    if (y := year_in_name(file_name)) is not None:
        stated.append((y, f"the file name ({file_name!r})"))
    title_years = years_in_titles(titles)
    if len(title_years) > 1:
        raise SourceFormatError(
            f"{file_name}: the title rows give several years: "
            + ", ".join(f"{y} in {w}" for y, w in title_years.items()) + "; pass --year to choose"
        )
    stated += [(y, f"the title {w}" + (f" of sheet {sheet!r}" if sheet else "")) for y, w in title_years.items()]
    if sheet and (y := year_in_name(sheet)) is not None:
        stated.append((y, f"the sheet name {sheet!r}"))
    if given not in (None, ""):
        stated.append((int(str(given)[:4]), f"--year {given}"))
    if not stated:
        raise SourceFormatError(
            f"{file_name}: cannot tell the year: no year in the file name or its title rows; "
            "pass --year (or list the file with its period in MANIFEST.csv)"
        )
    first, where = stated[0]
    for y, other in stated[1:]:
        if y != first:
            raise SourceFormatError(f"{file_name}: {where} says {first} but {other} says {y}; "
                                    "correct one of them")
    return first


# --- codes ----------------------------------------------------------------------------------

# The 33 DANE department codes (2-digit prefixes of every DIVIPOLA municipality code).
DEPARTMENTS = frozenset((
    "05 08 11 13 15 17 18 19 20 23 25 27 41 44 47 50 52 54 63 66 68 70 73 76 81 85 86 88 91 94 "
    "95 97 99").split())


def municipality_code(value: object) -> tuple[str | None, str | None]:
    """(5-digit DIVIPOLA code, None) or (None, why not) for a code in any published form:
    text ('05001', "'05001"), an integer without its leading zero (5001), a float (5001.0) or
    an entity code that ends with the DIVIPOLA code (CGN's 210105001, or 89970221 whose
    leading zero fell off)."""
    text = cell_text(value)
    if text is None:
        return None, "empty code"
    s = text.strip().lstrip("'").replace(" ", "")
    if re.fullmatch(r"\d+\.0+", s):
        s = s.split(".")[0]
    if not s.isdigit():
        return None, f"expected a DANE municipality code (5 digits, or an entity code ending in one), found {text!r}"
    if len(s) <= 5:
        code = s.zfill(5)
    elif len(s) in (8, 9):
        code = s[-5:]
    else:
        return None, (f"expected a DANE municipality code (5 digits) or a CGN entity code (9 digits), "
                      f"found {len(s)} digits")
    if code[:2] not in DEPARTMENTS:
        return None, f"code {code} does not resolve to DIVIPOLA: {code[:2]} is no DANE department"
    if code.endswith("000"):
        return None, f"code {code} is a department, not a municipality"
    return code, None


# --- scale ----------------------------------------------------------------------------------

def scale_problem(low: float, high: float) -> str:
    return f"outside the published range {low:g}–{high:g}"


def check_scale(where: str, header: str, bounds: tuple[float, float], outside: list[tuple[int, str]],
                read: int, tolerance: float = 0.01, over: float = 0.0) -> None:
    """Refuse a file whose column is out of its published range in more than ``tolerance`` of
    its values (a scale error, such as 0–100 read as 0–10,000), before anything is loaded.
    Isolated values out of range are the caller's to quarantine. Nothing is ever rescaled.
    ``over``: how far above the top the publisher's own values may go (the caller leaves such
    values out of ``outside``; a file 100 times off still has them 100 times off)."""
    if not outside or len(outside) <= max(1, tolerance * read):
        return
    low, high = bounds
    values = sorted(float(v) for _, v in outside)
    row, example = outside[0]
    cause = "a unit or scale different from the published one"
    for factor in (100, 1000, 10):
        if all(low <= v / factor <= high + over for v in values):
            cause = (f"every such value is {factor} times a value in range: most likely a decimal "
                     f"separator lost when the file was re-saved (e.g. {example} for "
                     f"{float(example) / factor:g})")
            break
    raise SourceFormatError(
        f"{where}, column {header!r}: {len(outside)} of {read} values are {scale_problem(low, high)} "
        f"(from {values[0]:g} to {values[-1]:g}; first at row {row}: {example}); {cause}. "
        "Nothing was loaded and nothing is rescaled: correct the file (or get the publisher's "
        "original) and extract it again."
    )


def year_of(value: object) -> tuple[str | None, str | None]:
    """(year as text, None) or (None, why not) for a year cell ('2024', 2024, 2024.0): four
    digits, within the plausible range (``plausible_year_problem``)."""
    s = number_text(value)
    if s is None or not re.fullmatch(r"\d{4}(\.0+)?", s):
        return None, "expected a year such as 2024"
    s = s.split(".")[0]
    problem = plausible_year_problem(s)
    return (None, problem) if problem else (s, None)


def holds_departments(table: Table, column: str) -> bool:
    """True when most codes of ``column`` are departments ('05', '05000', CGN's 110505000): a
    departmental sheet beside the municipal one, not this source's rows."""
    codes = [re.sub(r"\.0+$", "", cell_text(rec[column]) or "") for _, rec in table.records()]
    codes = [c for c in codes if c.isdigit()]
    departments = sum(len(c) <= 2 or (len(c) >= 5 and c.endswith("000")) for c in codes)
    return bool(codes) and departments > len(codes) / 2
