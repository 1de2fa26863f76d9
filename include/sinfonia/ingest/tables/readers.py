"""Readers: workbooks and delimited text as lists of row tuples, with clear errors for empty,
HTML and corrupt files."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

from sinfonia.ingest.tables.cells import HEADER_SCAN_ROWS, SourceFormatError


def read_xlsx_sheets(path: Path, data: bytes | None = None) -> dict[str, list[tuple]]:
    """All sheets of a workbook as lists of row tuples (values, not formulas); ``data``: its bytes,
    already read (the path is then only its name)."""
    import zipfile

    import openpyxl

    check_not_empty_or_html(path, "an Excel workbook (.xlsx)", data)
    import zlib

    try:
        wb = openpyxl.load_workbook(path if data is None else io.BytesIO(data), read_only=True, data_only=True)
        try:
            return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
        finally:
            wb.close()
    # SyntaxError: a sheet whose XML is malformed (xml.etree and lxml parse errors derive from it)
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError, ValueError, SyntaxError) as exc:
        raise SourceFormatError(
            f"{Path(path).name}: not a readable Excel workbook ({type(exc).__name__}: {exc}); "
            "expected a complete .xlsx file (truncated or corrupt download?)"
        ) from exc


def check_not_empty_or_html(path: Path, expected: str, data: bytes | None = None) -> None:
    """An empty file, or an HTML page saved under a data file's name, is a clear error."""
    path = Path(path)
    if data is not None:
        head = data[:512]
    else:
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


DELIMITERS = (",", ";", "\t", "|")


def sniff_delimiter(text: str) -> str:
    """The delimiter (',' ';' tab '|') that splits the first ``HEADER_SCAN_ROWS`` lines most
    consistently: the one whose most frequent non-zero count per line is shared by the most lines
    (a title line above the header has none; commas inside names or decimal commas vary from
    line to line, a real delimiter does not), ties to the larger count. Decimal commas are read
    by ``number_text``."""
    lines = [line for line in text.split("\n", HEADER_SCAN_ROWS)[:HEADER_SCAN_ROWS] if line.strip()]

    def consistency(delimiter: str) -> tuple[int, int]:
        counts = Counter(c for c in (line.count(delimiter) for line in lines) if c)
        if not counts:
            return (0, 0)
        count, lines_with_it = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        return (lines_with_it, count)

    return max(DELIMITERS, key=consistency)


def read_csv_rows(path: Path, data: bytes | None = None) -> list[tuple]:
    """A delimited text file (``.csv``, ``.txt``, ``.tsv``) as row tuples; the delimiter is sniffed.
    ``data``: its bytes, already read."""
    check_not_empty_or_html(path, "a delimited text file (CSV)", data)
    text = decode_text(Path(path).read_bytes() if data is None else data)
    return [tuple(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))]
