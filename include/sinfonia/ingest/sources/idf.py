"""IDF, Índice de Desempeño Fiscal (DNP): one workbook per year, two methodologies.

Old methodology (up to 2021; 2022 as "antigua metod."): title rows, header row 8, score column
``Indicador de desempeño Fiscal 7/``, footnotes and an unlabelled average row below the data.
New methodology (2020 on): merged title rows 1–4, a merged group row 6, header row 7, score
column ``Nuevo IDF``. DNP's consultation tool export (2024 on; one department or all): sheet
``Hoja1``, a metadata block with ``Año | 2024`` in rows 8–13, header row 17 from column B
(``Código Entidad, Código FUT, Entidad, Departamento, Cod. Departamento, Categoría, Dotación
Inicial, …, IDF Sin Bonos, IDF, Rango``), new methodology.

The table is found by content in any sheet (the one with the most of the columns below; a
ranking sheet repeating code, name and score is not it); only the code and the score are
required: the department follows from the DIVIPOLA code. The year comes from the file name, the
title or metadata rows or the sheet name, or ``--year``; a conflict is an error naming both. A
year before 2000 or after next year quarantines every row; scores out of 0–100 in more than 1 %
of the rows refuse the file (a scale error), an isolated one is quarantined. The range label is kept as
published: the methodologies swap ``Solvente`` and ``Sostenible`` (old: 5 = Solvente >= 80;
new: 5 = Sostenible >= 80), so the label is only comparable together with ``methodology``.
``bono_catastro``: the new methodology's cadastral bonus (column ``Bono Catastro``, 2020 on: 0 or
2 points added to the management score of a municipality that updated its cadastre), kept as
published; null where the table has no such column (the old methodology, the export) or the cell
is not a number.
"""

from __future__ import annotations

from datetime import date

from sinfonia.ingest.landing import LandedFile
from sinfonia.ingest.loading import Batch
from sinfonia.ingest.sources.contract import Field, Kind, RowContract
from sinfonia.ingest.sources.spec import Periods, SourceSpec
from sinfonia.ingest.tables import (
    Column,
    SourceFormatError,
    cell_text,
    find_tables,
    header_key,
    holds_departments,
    municipality_code,
    normalise,
    plausible_year_problem,
    read_xlsx_sheets,
    resolve_period,
)

SOURCE = "idf"
FOLDER = "idf"
PATTERNS = ("*.xlsx",)
COLUMNS = (
    "year", "methodology", "municipality_code", "department_name", "municipality_name",
    "idf_score", "range_label", "category", "capacity_group", "bono_catastro",
)
NEW_SCORE = "nuevo idf"
OLD_SCORE = "indicador de desempeno fiscal"
EXPORT_SCORE = "idf"  # DNP's consultation tool export: 'IDF' beside 'IDF Sin Bonos'

TABLE = [
    Column("municipality_code", ("codigo dane", "codigo dane municipio", "codigo entidad", "codigo",
                                 "codigo municipio", "divipola")),
    Column("department_name", ("departamento", "nombre departamento"), required=False),
    Column("municipality_name", ("municipio", "entidad", "nombre municipio"), required=False),
    Column("idf_score", (NEW_SCORE, OLD_SCORE, EXPORT_SCORE)),
    Column("range_label", ("rango", "rango clasificacion", "rango de clasificacion"), required=False),
    # 'Categoría Ley 617 de 2000', 'CATEG_LEY 617 VIGENCIA 2015', 'Categorías', 'Categoría'
    Column("category", ("categoria",), required=False, prefix=True),
    Column("capacity_group", ("dotaciones iniciales", "grupo dotaciones iniciales", "dotacion inicial"),
           required=False),
    Column("bono_catastro", ("bono catastro",), required=False),
]
SCORE_RANGE = (0.0, 100.0)  # the published range of the score (and of the raw gate, raw_idf.json)


def default_published_on(year: int) -> date:
    """DNP publishes year Y's results in the second half of Y+1 (used when no manifest says)."""
    return date(year + 1, 9, 30)


def _departmental(f: LandedFile, sheet: str, rows: list[tuple]) -> bool:
    """A sheet of departments ('Departamentos 2023': codes 91000 or 05), by content."""
    try:
        [table] = find_tables(f.file_name, {sheet: rows}, TABLE)
    except (SourceFormatError, ValueError):
        return False
    return holds_departments(table, "municipality_code")


def _methodology(table, f: LandedFile) -> str:
    names = normalise(f"{table.sheet or ''} {f.file_name}")
    if "antigua" in names or "anterior" in names:
        return "anterior"
    return "anterior" if header_key(table.headers["idf_score"]) == OLD_SCORE else "nueva"


def parse(files: list[LandedFile], period: str | None = None) -> list[Batch]:
    """One batch per municipal table (sheet) found: the DNP yearly annex (any year, either
    methodology) or the consultation tool's export (``Hoja1``, metadata block with ``Año``)."""
    batches: list[Batch] = []
    for f in files:
        sheets = read_xlsx_sheets(f.path)
        municipal = [s for s, rows in sheets.items() if not _departmental(f, s, rows)]
        if not municipal:
            raise SourceFormatError(f"{f.file_name}: only departments (sheets: {list(sheets)}); "
                                    "expected the municipal IDF")
        for table in find_tables(f.file_name, {s: sheets[s] for s in municipal}, TABLE):
            year = resolve_period(f.file_name, sheet=table.sheet, titles=table.above, given=period)
            batches.append(_batch(f, table, year, _methodology(table, f)))
    return batches


# The row contract: the code (the key), the score and the cadastral bonus; every other column is text as published.
_TYPED = {"municipality_code": Field("municipality_code", Kind.CODE, key=True, required=True),
          "idf_score": Field("idf_score", Kind.NUMBER, required=True, range=SCORE_RANGE),
          "bono_catastro": Field("bono_catastro", Kind.NUMBER)}
FIELDS = tuple(_TYPED.get(c, Field(c)) for c in COLUMNS[2:])


def _batch(f: LandedFile, table, year: int, methodology: str) -> Batch:
    batch = Batch(SOURCE, f"{year}-{methodology}", COLUMNS, files=[f.sha256],
                  published_on=f.published_on or default_published_on(year))
    year_problem = plausible_year_problem(year)
    contract = RowContract(FIELDS)
    for row_number, rec in table.records():
        filled = [v for v in rec.values() if cell_text(v) is not None]
        if (cell_text(rec["municipality_code"]) is None and cell_text(rec.get("municipality_name")) is None) or (
            len(filled) == 1 and municipality_code(filled[0])[0] is None
        ):
            batch.notes_skipped += 1  # footnotes, sources, the unlabelled average row
            continue
        if year_problem:
            batch.reject(f.file_name, row_number, "year", str(year), year_problem,
                         {table.headers[k]: cell_text(v) for k, v in rec.items()})
        elif (row := contract.row(batch, table, row_number, rec)) is not None:
            batch.rows.append((f.file_name, row_number, str(year), methodology,
                               *(row[c] for c in COLUMNS[2:])))
    contract.finish(batch, table)
    return batch


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse, periods=Periods.PER_FILE, year_fallback=True,
                  divipola_code="municipality_code", after=("divipola",))
