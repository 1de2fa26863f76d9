"""ESAP ``metas`` export: the yearly goal (playlist) per directorate and thematic line.

Headers (contract v1): Vigencia, Dirección Territorial, Línea Temática, Meta Asistencias. One
batch per Vigencia: a new file for a year replaces that year's goals.
"""

from __future__ import annotations

from sinfonia.ingest.landing import LandedFile
from sinfonia.ingest.loading import Batch
from sinfonia.ingest.sources.contract import Field, Kind, RowContract, record_of
from sinfonia.ingest.sources.spec import SourceSpec
from sinfonia.ingest.tables import Column, normalise, number_text, read_table

SOURCE = "esap_metas"
FOLDER = "esap"
PATTERNS = ("metas*.csv", "metas*.xlsx")
COLUMNS = ("goal_year", "directorate", "thematic_line", "goal")
TABLE = [
    Column("goal_year", ("vigencia",)),
    Column("directorate", (normalise("Dirección Territorial"),)),
    Column("thematic_line", (normalise("Línea Temática"),)),
    Column("goal", (normalise("Meta Asistencias"), "meta")),
]
FIELDS = (
    Field("goal_year", Kind.YEAR, key=True, required=True),
    Field("directorate", key=True, required=True, fold=True),
    Field("thematic_line", key=True, required=True, fold=True),
    Field("goal", Kind.INTEGER, required=True, range=(0, None), scale=False),
)


def parse(files: list[LandedFile]) -> list[Batch]:
    batches: dict[str, Batch] = {}
    contract = RowContract(FIELDS)
    for f in files:
        table = read_table(f.path, TABLE)
        for row_number, rec in table.records():
            row, problem = contract.check(table, row_number, rec)
            # A quarantined row goes to the batch of the year it gives, plausible or not.
            year = row.get("goal_year") or (number_text(rec["goal_year"]) or "unknown").split(".")[0]
            batch = batches.setdefault(year, Batch(SOURCE, year, COLUMNS, published_on=f.published_on))
            if f.sha256 not in batch.files:
                batch.files.append(f.sha256)
            if problem:
                batch.reject(f.file_name, row_number, *problem, record_of(table, rec))
                continue
            contract.keep(table, row_number, row)
            batch.rows.append((f.file_name, row_number, *(row[c] for c in COLUMNS)))
    return list(batches.values())


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse, drives_monitoring=True)
