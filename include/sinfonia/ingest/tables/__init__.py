"""Reading published tables whatever their layout, by concern:

- :mod:`.cells`: normalised text and header keys, numbers, DANE codes, the published scale;
- :mod:`.readers`: workbooks and delimited text as row tuples;
- :mod:`.periods`: the year a file, sheet or title states;
- :mod:`.headers`: header rows and columns found by name (``Column``, ``Table``, ``read_table``).

The names the parsers use are re-exported here.
"""

from sinfonia.ingest.tables.cells import (
    DEPARTMENTS,
    HEADER_SCAN_ROWS,
    SourceFormatError,
    cell_text,
    check_scale,
    column_letter,
    dane_code,
    header_key,
    municipality_code,
    normalise,
    number_text,
    scale_problem,
)
from sinfonia.ingest.tables.headers import (
    Column,
    Contains,
    Table,
    find_table,
    find_tables,
    holds_departments,
    locate_header,
    read_table,
    table_from_rows,
)
from sinfonia.ingest.tables.periods import (
    plausible_year_problem,
    resolve_period,
    year_in_name,
    year_of,
    years_in_titles,
)
from sinfonia.ingest.tables.readers import (
    check_not_empty_or_html,
    decode_text,
    read_csv_rows,
    read_xlsx_sheets,
)

__all__ = [
    "DEPARTMENTS", "HEADER_SCAN_ROWS", "Column", "Contains", "SourceFormatError", "Table", "cell_text",
    "check_not_empty_or_html", "check_scale", "column_letter", "dane_code", "decode_text", "find_table",
    "find_tables", "header_key", "holds_departments", "locate_header", "municipality_code", "normalise",
    "number_text", "plausible_year_problem", "read_csv_rows", "read_table", "read_xlsx_sheets", "resolve_period",
    "scale_problem", "table_from_rows", "year_in_name", "year_of", "years_in_titles",
]
