"""IDF, Índice de Desempeño Fiscal (DNP): one workbook per year, two methodologies.

Old methodology (up to 2021; 2022 as "antigua metod."): title rows, header row 8, score column
``Indicador de desempeño Fiscal 7/``, footnotes and an unlabelled average row below the data.
New methodology (2020 on): merged title rows 1–4, a merged group row 6, header row 7, score
column ``Nuevo IDF``. Headers are found by name in every year. The range label is kept as
published: the methodologies swap ``Solvente`` and ``Sostenible`` (old: 5 = Solvente >= 80;
new: 5 = Sostenible >= 80), so the label is only comparable together with ``methodology``.
"""

from __future__ import annotations

import re
from datetime import date

from sinfonia.landing import LandedFile
from sinfonia.loading import Batch
from sinfonia.sources._tables import (
    Column, SourceFormatError, cell_text, dane_code, normalise, number_text, read_xlsx_sheets,
    table_from_rows,
)
from sinfonia.sources.spec import Periods, SourceSpec

SOURCE = "idf"
FOLDER = "idf"
PATTERNS = ("*.xlsx",)
COLUMNS = (
    "year", "methodology", "municipality_code", "department_name", "municipality_name",
    "idf_score", "range_label", "category", "capacity_group",
)
NEW_SCORE = "nuevo idf"
OLD_SCORE = "indicador de desempeno fiscal"

TABLE = [
    Column("municipality_code", ("codigo", "codigo dane", "codigo dane municipio", "cod dane")),
    Column("department_name", ("departamento",)),
    Column("municipality_name", ("municipio",)),
    Column("idf_score", (NEW_SCORE, OLD_SCORE)),
    Column("range_label", ("rango", "rango clasificacion", "rango de clasificacion")),
    Column("category", ("categoria ley 617 de 2000", "categoria ley 617", "categorias", "categoria"),
           required=False),
    Column("capacity_group", ("dotaciones iniciales", "grupo dotaciones iniciales"), required=False),
]


def default_published_on(year: int) -> date:
    """DNP publishes year Y's results in the second half of Y+1 (used when no manifest says)."""
    return date(year + 1, 9, 30)


def _municipal_sheets(sheets: dict[str, list[tuple]]):
    for name, rows in sheets.items():
        norm = normalise(name)
        if norm.startswith("municipios"):
            m = re.search(r"(20\d\d)", name)
            if m:
                yield name, int(m.group(1)), "anterior" if "antigua" in norm or "anterior" in norm else None, rows


def parse(files: list[LandedFile]) -> list[Batch]:
    batches: list[Batch] = []
    for f in files:
        sheets = read_xlsx_sheets(f.path)
        found = list(_municipal_sheets(sheets))
        if not found:
            raise SourceFormatError(
                f"{f.file_name}: no sheet named 'Municipios <year>' (sheets: {list(sheets)})"
            )
        for sheet, year, methodology, rows in found:
            table = table_from_rows(f.file_name, sheet, rows, TABLE)
            score_header = normalise(rows[table.header_row - 1][table.positions["idf_score"]])
            methodology = methodology or ("nueva" if score_header == NEW_SCORE else "anterior")
            batch = Batch(SOURCE, f"{year}-{methodology}", COLUMNS, files=[f.sha256],
                          published_on=f.published_on or default_published_on(year))
            seen: dict[str, int] = {}
            for row_number, rec in table.records():
                raw_code, name = rec["municipality_code"], cell_text(rec["municipality_name"])
                filled = [v for v in rec.values() if cell_text(v) is not None]
                if (cell_text(raw_code) is None and name is None) or (
                    len(filled) == 1 and dane_code(filled[0]) is None
                ):
                    batch.notes_skipped += 1  # footnotes, sources, the unlabelled average row
                    continue
                code = dane_code(raw_code)
                score = number_text(rec["idf_score"])
                header = rows[table.header_row - 1][table.positions["idf_score"]]
                if code is None:
                    batch.reject(f.file_name, row_number, "Código", raw_code,
                                 "expected a 5-digit DANE municipality code", rec)
                elif code in seen:
                    batch.reject(f.file_name, row_number, "Código", code,
                                 f"duplicate municipality (first at row {seen[code]})", rec)
                elif score is None:
                    batch.reject(f.file_name, row_number, str(header).strip(), rec["idf_score"],
                                 "expected a numeric score", rec)
                else:
                    seen[code] = row_number
                    batch.rows.append((
                        f.file_name, row_number, str(year), methodology, code,
                        cell_text(rec["department_name"]), name, score,
                        cell_text(rec["range_label"]), cell_text(rec.get("category")),
                        cell_text(rec.get("capacity_group")),
                    ))
            batches.append(batch)
    return batches


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse, periods=Periods.PER_FILE)
