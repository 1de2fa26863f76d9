"""Writing sheets a planning office can hand out, and that no cell of can run as a formula.

Text from the sources (a municipality name, a reason) could start with ``=``: written as is,
openpyxl stores it as a live formula (``=Hyperlink(...)``, ``=Cmd|' /C Calc'!A0``). Every text
cell therefore goes through ``text``: neutralised as OWASP describes for CSV injection (a
leading ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a single quote in front) and typed
as a string explicitly, so neither Excel nor LibreOffice (nor a CSV saved from the sheet)
evaluates it. Numbers stay numbers, with a number format; dates stay dates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
INTEGER, DECIMAL_1, DECIMAL_2, DATE = "#,##0", "#,##0.0", "#,##0.00", "DD/MM/YYYY"
PERCENT = "0%"
TEXT = "@"
MAX_WIDTH = 60


def neutralise(text: str) -> str:
    """OWASP's rule for spreadsheet cells: text that a spreadsheet could read as a formula is
    prefixed with a single quote."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


@dataclass(frozen=True)
class Column:
    """One column of a sheet: the frame's column, its header and its Excel number format."""

    key: str
    header: str
    number_format: str | None = None  # None: text (or a boolean shown as Sí/No)


def plain(value):
    """A Python value for a cell: numpy scalars unwrapped, NaN and None as empty, booleans as Sí/No."""
    if hasattr(value, "item"):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "Sí" if value else "No"
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        value = value.to_pydatetime()
    return value


def put(ws, row: int, col: int, value, number_format: str | None = None):
    """Write one cell: text neutralised and typed as a string, numbers and dates with a format."""
    value = plain(value)
    if isinstance(value, str):
        cell = ws.cell(row=row, column=col)
        cell.value = neutralise(value)
        cell.data_type = "s"  # never 'f', whatever the text
        return cell
    if hasattr(value, "is_finite") and value.is_finite():  # Decimal
        value = float(value)
    cell = ws.cell(row=row, column=col, value=value)
    if number_format and isinstance(value, (int, float, date, datetime)):
        cell.number_format = number_format
    return cell


def category(value):
    """A municipal category as a number (1–6) when it is one; ``E`` (especial) stays text."""
    value = plain(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def fit_widths(ws, first_row: int, headers: dict[int, str]) -> None:
    """Column widths that fit the longest value (headers wrap on their words), capped at MAX_WIDTH."""
    from openpyxl.utils import get_column_letter

    widths: dict[int, int] = {}
    for row in ws.iter_rows(min_row=first_row):
        for cell in row:
            if cell.value is None:
                continue
            if isinstance(cell.value, (int, float)) and cell.number_format != "General":
                shown = len(f"{cell.value:,.2f}")  # formatted numbers are at most this wide
            elif isinstance(cell.value, (date, datetime)):
                shown = 10
            else:
                shown = len(str(cell.value))
            widths[cell.column] = max(widths.get(cell.column, 0), shown)
    for col, header in headers.items():
        longest_word = max((len(w) for w in header.split()), default=0)
        width = max(widths.get(col, 0), longest_word, 6) + 2
        ws.column_dimensions[get_column_letter(col)].width = min(width, MAX_WIDTH)
