"""What a file must be before it is landed; every refusal names the file and what was expected.

- **Inside the sources folder, and not a link**: a symbolic link, or a path that resolves
  outside the folder given (``esap -> /etc``), is refused: a sources folder must not smuggle
  other files of the machine into the warehouse.
- **No personal data under another source's name**: a file whose header holds both an identity
  document and a name (the ESAP ``equipos`` roster) is refused whatever its name, unless it is
  landed as that roster (which is pseudonymised before anything is written).
- **Within limits**, each configurable in the environment: file size
  (``SINFONIA_MAX_FILE_MB``, default 200), what an XLSX declares it expands to
  (``SINFONIA_MAX_XLSX_UNCOMPRESSED_MB``, 1000: a zip bomb is refused before openpyxl opens it),
  rows (``SINFONIA_MAX_ROWS``, 2 000 000) and characters in one cell (``SINFONIA_MAX_CELL_CHARS``,
  32 767, Excel's own limit).
- **Text without NUL bytes** (a UTF-16 or binary file saved as ``.csv``): refused naming the row
  and column, rather than failing later inside the database load.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import zipfile
from itertools import islice
from pathlib import Path

from sinfonia.db import env_number
from sinfonia.ingest.tables import HEADER_SCAN_ROWS, SourceFormatError, decode_text, normalise

LIMITS = {  # name -> (environment variable, default, unit)
    "file_mb": ("SINFONIA_MAX_FILE_MB", 200, "megabytes"),
    "xlsx_uncompressed_mb": ("SINFONIA_MAX_XLSX_UNCOMPRESSED_MB", 1000, "megabytes"),
    "rows": ("SINFONIA_MAX_ROWS", 2_000_000, "rows"),
    "cell_chars": ("SINFONIA_MAX_CELL_CHARS", 32_767, "characters"),
}
# Header texts (normalised) of an identity document and of a person's name.
DOCUMENT_HEADERS = {"documento", "numero de documento", "no documento", "no. documento", "cedula",
                    "cedula de ciudadania", "numero de identificacion", "identificacion", "documento de identidad"}
NAME_HEADERS = {"nombre", "nombres", "nombre completo", "nombres y apellidos", "apellidos y nombres", "apellidos"}
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension ref="[A-Z]+\d+(?::[A-Z]+(\d+))?"')


class RefusedFile(SourceFormatError):
    """A file refused before landing (names the file and the rule)."""


def limit(name: str) -> float:
    return env_number(*LIMITS[name])


def check(path: Path, root: Path | None = None, personal_data_expected: bool = False) -> None:
    """Refuse ``path`` (raise :class:`RefusedFile`) unless it may be landed."""
    path = Path(path)
    check_location(path, root)
    size_mb = path.stat().st_size / 1e6
    if size_mb > limit("file_mb"):
        raise RefusedFile(f"{path.name}: {size_mb:.3g} MB; expected at most {limit('file_mb'):g} MB "
                          f"({LIMITS['file_mb'][0]})")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        headers = _check_xlsx(path)
    elif suffix in (".csv", ".txt", ".tsv"):
        headers = _check_delimited(path)
    else:
        headers = []
    if not personal_data_expected:
        for where, row in headers:
            found = _personal(row)
            if found:
                raise RefusedFile(
                    f"{path.name}: {where} holds personal data (columns {', '.join(found)}): refused "
                    "before landing, nothing was stored. Team rosters go in esap/equipos_<year>.csv, "
                    "which is pseudonymised on landing; any other source must not carry them")


def check_location(path: Path, root: Path | None) -> None:
    if path.is_symlink():
        raise RefusedFile(f"{path.name}: a symbolic link (to {path.readlink()}); expected a regular file: "
                          "links are not followed, copy the file into the sources folder")
    if root is not None:
        resolved, base = path.resolve(), Path(root).resolve()
        if not resolved.is_relative_to(base):
            raise RefusedFile(f"{path.name}: resolves to {resolved}, outside the sources folder {base} "
                              "(through a linked folder?); expected files inside it")
    if not path.is_file():
        raise RefusedFile(f"{path.name}: not a regular file")


def _personal(row) -> list[str]:
    headers = {normalise(v): str(v).strip() for v in row if v is not None and str(v).strip()}
    documents = [h for n, h in headers.items() if n in DOCUMENT_HEADERS]
    names = [h for n, h in headers.items() if n in NAME_HEADERS]
    return documents + names if documents and names else []


def _check_xlsx(path: Path) -> list[tuple[str, tuple]]:
    """Declared sizes and rows first (cheap, from the zip directory and each sheet's
    ``<dimension>``), then the header rows of every sheet."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return []  # not a workbook at all: the parser says so, naming the file
    with archive:
        members = archive.infolist()
        expanded_mb = sum(m.file_size for m in members) / 1e6
        if expanded_mb > limit("xlsx_uncompressed_mb"):
            raise RefusedFile(
                f"{path.name}: expands to {expanded_mb:,.0f} MB uncompressed ({path.stat().st_size / 1e6:.1f} MB "
                f"on disk); expected at most {limit('xlsx_uncompressed_mb'):g} MB "
                f"({LIMITS['xlsx_uncompressed_mb'][0]}): a zip bomb, or a workbook too large to read")
        for m in members:
            if m.filename.startswith("xl/worksheets/") and m.filename.endswith(".xml"):
                with archive.open(m) as fh:
                    match = _DIMENSION.search(fh.read(4096))
                if match and match.group(1) and int(match.group(1)) > limit("rows"):
                    raise RefusedFile(
                        f"{path.name}: sheet {Path(m.filename).stem} declares {int(match.group(1)):,} rows; "
                        f"expected at most {int(limit('rows')):,} ({LIMITS['rows'][0]})")
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - unreadable workbooks are reported by the parser
        return []
    try:
        return [(f"sheet {ws.title!r}, row {i}", row) for ws in wb.worksheets
                for i, row in enumerate(ws.iter_rows(max_row=HEADER_SCAN_ROWS, values_only=True), start=1)]
    finally:
        wb.close()


def _check_delimited(path: Path) -> list[tuple[str, tuple]]:
    """NUL bytes, cell length and rows of a delimited file, located by row (of the file, header
    row 1) and column; its first rows, for the header check."""
    text = decode_text(path.read_bytes())
    delimiter = max([",", ";", "\t", "|"], key=text.split("\n", 1)[0].count)
    rows, cell_chars = int(limit("rows")), int(limit("cell_chars"))
    if cell_chars >= csv.field_size_limit():  # the parsers' csv module must accept what passes here
        csv.field_size_limit(cell_chars + 1)
    head = [(f"row {i}", tuple(r)) for i, r in enumerate(
        islice(_reader(text, delimiter), HEADER_SCAN_ROWS), start=1)]
    if (text.count("\n") < rows and "\x00" not in text
            and max(map(len, text.split("\n"))) <= cell_chars):
        return head  # the usual file: nothing to locate
    header: list[str] = []
    for i, row in enumerate(_reader(text, delimiter), start=1):
        if not header and any(row):
            header = row
        if i > rows:
            raise RefusedFile(f"{path.name}: more than {rows:,} rows; expected at most {rows:,} "
                              f"({LIMITS['rows'][0]})")
        for j, cell in enumerate(row):
            if "\x00" in cell or len(cell) > cell_chars:
                column = header[j] if j < len(header) and header is not row else f"number {j + 1}"
                if "\x00" in cell:
                    raise RefusedFile(
                        f"{path.name}: row {i}, column {column!r}: a NUL byte (0x00); expected text "
                        "(a UTF-16 or binary file saved as CSV?)")
                raise RefusedFile(
                    f"{path.name}: row {i}, column {column!r}: a cell of {len(cell):,} characters; "
                    f"expected at most {cell_chars:,} ({LIMITS['cell_chars'][0]})")
    return head


def _reader(text: str, delimiter: str):
    """csv.reader without the module's 128 KB field limit (lengths are checked here instead)."""
    previous = csv.field_size_limit(sys.maxsize)
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    finally:
        csv.field_size_limit(previous)
