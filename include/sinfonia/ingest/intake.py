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
import zlib
from itertools import islice
from pathlib import Path

from sinfonia.db import env_number
from sinfonia.ingest.tables import HEADER_SCAN_ROWS, SourceFormatError, decode_text, normalise
from sinfonia.ingest.tables.readers import DELIMITERS, sniff_delimiter

LIMITS = {  # name -> (environment variable, default, unit)
    "file_mb": ("SINFONIA_MAX_FILE_MB", 200, "megabytes"),
    "xlsx_uncompressed_mb": ("SINFONIA_MAX_XLSX_UNCOMPRESSED_MB", 1000, "megabytes"),
    "rows": ("SINFONIA_MAX_ROWS", 2_000_000, "rows"),
    "cell_chars": ("SINFONIA_MAX_CELL_CHARS", 32_767, "characters"),
    # every sheet of a workbook is read into memory by the parsers: the cells of all its sheets,
    # counted while streaming, bound that memory (README: measured peak for a workbook at the limit)
    "xlsx_cells": ("SINFONIA_MAX_XLSX_CELLS", 2_000_000, "cells"),
}
# Words (of a normalised header) that name an identity document and a person's name: a header row
# holding one of each in different cells is a roster ('Número de cédula', 'Nombre y apellido').
DOCUMENT_TOKENS = frozenset({"cedula", "cedulas", "documento", "documentos", "identificacion", "nuip", "pasaporte"})
NAME_TOKENS = frozenset({"nombre", "nombres", "apellido", "apellidos"})
_ROW_TAG = re.compile(rb"<(?:\w+:)?row[\s>/]")
_CELL_TAG = re.compile(rb"<(?:\w+:)?c[\s>/]")


class RefusedFile(SourceFormatError):
    """A file refused before landing (names the file and the rule)."""


def limit(name: str) -> float:
    return env_number(*LIMITS[name])


def read_checked(path: Path, root: Path | None = None, personal_data_expected: bool = False) -> bytes:
    """The bytes of ``path``, read once and checked (raise :class:`RefusedFile` unless they may
    be landed): the caller lands exactly these bytes, so a file replaced between the check and the
    landing cannot slip through. The size limit is checked before reading."""
    path = Path(path)
    check_location(path, root)
    size_mb = path.stat().st_size / 1e6
    if size_mb > limit("file_mb"):
        raise RefusedFile(f"{path.name}: {size_mb:.3g} MB; expected at most {limit('file_mb'):g} MB "
                          f"({LIMITS['file_mb'][0]})")
    data = path.read_bytes()
    if len(data) / 1e6 > limit("file_mb"):  # grown since the size was read
        raise RefusedFile(f"{path.name}: {len(data) / 1e6:.3g} MB; expected at most {limit('file_mb'):g} MB "
                          f"({LIMITS['file_mb'][0]})")
    check_bytes(path.name, data, personal_data_expected)
    return data


def check_bytes(name: str, data: bytes, personal_data_expected: bool = False) -> None:
    """The content rules (limits, NUL bytes, personal data) on a file's bytes."""
    path = Path(name)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        headers = _check_xlsx(path, data)
    elif suffix in (".csv", ".txt", ".tsv"):
        headers = _check_delimited(path, data)
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
    """The cells of a header row naming an identity document and a person's name (matched by
    word, whatever the wording around it), or [] when the row does not hold both."""
    cells = [(set(normalise(v).split()), " ".join(str(v).split())) for v in row if v is not None and str(v).strip()]
    documents = [h for words, h in cells if words & DOCUMENT_TOKENS]
    names = [h for words, h in cells if words & NAME_TOKENS and h not in documents]
    return documents + names if documents and names else []


def _tags(data: bytes) -> tuple[int, int]:
    """``<row>`` and ``<c>`` start tags in ``data`` (bytes.count, at C speed; the regular
    expressions only when a namespace prefix is used, as in ``<x:row``)."""
    if b":row" in data or b":c " in data:
        return len(_ROW_TAG.findall(data)), len(_CELL_TAG.findall(data))
    rows = data.count(b"<row ") + data.count(b"<row>")
    cells = data.count(b"<c ") + data.count(b"<c>") + data.count(b"<c/>")
    return rows, cells


def _sheet_counts(fh, max_rows: float = float("inf"), max_cells: float = float("inf")) -> tuple[int, int]:
    """Rows and cells of a worksheet's XML, counted while streaming it in 1 MB chunks (bounded
    memory; the optional ``<dimension>`` element is never trusted); it stops reading as soon as
    either count passes its maximum."""
    rows = cells = 0
    tail = b""
    while (rows <= max_rows and cells <= max_cells) and (chunk := fh.read(1 << 20)):
        data = tail + chunk
        tail = data[-16:]  # searched again with the next chunk: a tag cut by the chunk boundary
        (r, c), (tr, tc) = _tags(data), _tags(tail)
        rows, cells = rows + r - tr, cells + c - tc
    tr, tc = _tags(tail)
    return rows + tr, cells + tc


def _check_xlsx(path: Path, data: bytes) -> list[tuple[str, tuple]]:
    """Declared sizes first (from the zip directory), then each sheet's rows counted while
    streaming its XML, then the header rows of every sheet."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError):
        return []  # not a workbook at all: the parser says so, naming the file
    with archive:
        members = archive.infolist()
        expanded_mb = sum(m.file_size for m in members) / 1e6
        if expanded_mb > limit("xlsx_uncompressed_mb"):
            raise RefusedFile(
                f"{path.name}: expands to {expanded_mb:,.0f} MB uncompressed ({len(data) / 1e6:.1f} MB "
                f"on disk); expected at most {limit('xlsx_uncompressed_mb'):g} MB "
                f"({LIMITS['xlsx_uncompressed_mb'][0]}): a zip bomb, or a workbook too large to read")
        total_cells = 0
        for m in members:
            if m.filename.startswith("xl/worksheets/") and m.filename.endswith(".xml"):
                try:
                    with archive.open(m) as fh:
                        rows, cells = _sheet_counts(fh, limit("rows"), limit("xlsx_cells") - total_cells)
                except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
                    raise RefusedFile(f"{path.name}: sheet {Path(m.filename).stem} cannot be read ({exc}); "
                                      "expected a complete .xlsx file") from exc
                if rows > limit("rows"):
                    raise RefusedFile(
                        f"{path.name}: sheet {Path(m.filename).stem} has {rows:,} rows; "
                        f"expected at most {int(limit('rows')):,} ({LIMITS['rows'][0]})")
                total_cells += cells
                if total_cells > limit("xlsx_cells"):
                    raise RefusedFile(
                        f"{path.name}: more than {int(limit('xlsx_cells')):,} cells (at sheet "
                        f"{Path(m.filename).stem}); expected at most {int(limit('xlsx_cells')):,} "
                        f"({LIMITS['xlsx_cells'][0]}): a workbook this large is not read into memory")
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - unreadable workbooks are reported by the parser
        return []
    try:
        # islice, not max_row: openpyxl's read-only iter_rows(max_row=…) parses the whole sheet anyway
        return [(f"sheet {ws.title!r}, row {i}", row) for ws in wb.worksheets
                for i, row in enumerate(islice(ws.iter_rows(values_only=True), HEADER_SCAN_ROWS), start=1)]
    finally:
        wb.close()


def _check_delimited(path: Path, data: bytes) -> list[tuple[str, tuple]]:
    """NUL bytes, cell length and rows of a delimited file, located by row (of the file, header
    row 1) and column; its first rows, for the header check."""
    text = decode_text(data)
    # the header rows in every delimiter: a title line above a ';' header must not hide it
    delimiter = sniff_delimiter(text)
    rows, cell_chars = int(limit("rows")), int(limit("cell_chars"))
    if cell_chars >= csv.field_size_limit():  # the parsers' csv module must accept what passes here
        csv.field_size_limit(cell_chars + 1)
    head = [(f"row {i}", tuple(r)) for d in DELIMITERS for i, r in enumerate(
        islice(_reader(text, d), HEADER_SCAN_ROWS), start=1)]
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
