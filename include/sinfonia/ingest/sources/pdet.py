"""PDET municipalities (ART, Decreto Ley 893 de 2017): 170 municipalities in 16 subregions.

The published workbook stores codes as integers (5475 for 05475); they are zero-padded here.
"""

from __future__ import annotations

from sinfonia.ingest.landing import LandedFile
from sinfonia.ingest.loading import Batch
from sinfonia.ingest.sources.spec import Periods, SourceSpec
from sinfonia.ingest.tables import Column, cell_text, dane_code, read_table

SOURCE = "pdet"
FOLDER = "pdet"
PATTERNS = ("*.xlsx", "*.csv")
COLUMNS = ("subregion", "department_code", "department_name", "municipality_code", "municipality_name")

TABLE = [
    Column("subregion", ("subregion pdet", "subregion")),
    Column("department_code", ("codigo dane departamento", "codigo departamento"), required=False),
    Column("department_name", ("departamento",), required=False),
    Column("municipality_code", ("codigo dane municipio", "codigo municipio", "codigo dane")),
    Column("municipality_name", ("municipio",)),
]


def parse(files: list[LandedFile], period: str = "2017") -> list[Batch]:
    batch = Batch(SOURCE, period, COLUMNS, files=[f.sha256 for f in files])
    seen: set[str] = set()
    for f in files:
        table = read_table(f.path, TABLE)
        batch.note_headers(f.file_name, table.headers)
        for row_number, rec in table.records():
            code = dane_code(rec["municipality_code"])
            if code is None:
                batch.reject(f.file_name, row_number, "Código DANE Municipio", rec["municipality_code"],
                             "expected a DANE municipality code of up to 5 digits", rec)
            elif code in seen:
                batch.reject(f.file_name, row_number, "Código DANE Municipio", code, "duplicate municipality", rec)
            elif not cell_text(rec["subregion"]):
                batch.reject(f.file_name, row_number, "Subregión PDET", None, "empty subregion", rec)
            else:
                seen.add(code)
                batch.rows.append((f.file_name, row_number, cell_text(rec["subregion"]),
                                   dane_code(rec.get("department_code"), 2) or code[:2],
                                   cell_text(rec.get("department_name")), code, cell_text(rec["municipality_name"])))
    return [batch]


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse, periods=Periods.GIVEN,
                  divipola_code="municipality_code", after=("divipola",))
