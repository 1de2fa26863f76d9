"""PDET municipalities (ART, Decreto Ley 893 de 2017): 170 municipalities in 16 subregions.

The published workbook stores codes as integers (5475 for 05475); they are zero-padded here.
A list that covers every municipality, its subregion left blank for the ones that are not PDET,
loads its PDET rows; the others are counted in the load's message (not PDET), never quarantined.
"""

from __future__ import annotations

from sinfonia.ingest.landing import LandedFile
from sinfonia.ingest.loading import Batch
from sinfonia.ingest.sources.contract import Field, Kind, RowContract
from sinfonia.ingest.sources.spec import Periods, SourceSpec
from sinfonia.ingest.tables import Column, cell_text, dane_code, municipality_code, read_table

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


FIELDS = (
    Field("subregion", required=True), Field("department_code"), Field("department_name"),
    Field("municipality_code", Kind.CODE, key=True, required=True), Field("municipality_name"),
)


def parse(files: list[LandedFile], period: str = "2017") -> list[Batch]:
    batch = Batch(SOURCE, period, COLUMNS, files=[f.sha256 for f in files])
    contract = RowContract(FIELDS)
    for f in files:
        table = read_table(f.path, TABLE)
        for row_number, rec in table.records():
            if not cell_text(rec["subregion"]) and municipality_code(rec["municipality_code"])[0] is not None:
                batch.notes_skipped += 1  # a list of every municipality: no subregion, not PDET
                continue
            if (row := contract.row(batch, table, row_number, rec)) is not None:
                code = row["municipality_code"]
                batch.rows.append((f.file_name, row_number, row["subregion"],
                                   dane_code(row["department_code"], 2) or code[:2], row["department_name"], code,
                                   row["municipality_name"]))
        contract.finish(batch, table)
    if batch.notes_skipped:
        batch.notices.append(f"{batch.notes_skipped} municipalities without a PDET subregion: not PDET, not loaded "
                             f"({len(batch.rows)} PDET municipalities loaded)")
    return [batch]


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse, periods=Periods.GIVEN,
                  divipola_code="municipality_code", after=("divipola",))
