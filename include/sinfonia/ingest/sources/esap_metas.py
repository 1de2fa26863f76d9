"""ESAP ``metas`` export: the yearly goal (playlist) per directorate and thematic line.

Headers (contract v1): Vigencia, Dirección Territorial, Línea Temática, Meta Asistencias. One
batch per Vigencia: a new file for a year replaces that year's goals.
"""

from __future__ import annotations

from sinfonia.ingest.landing import LandedFile
from sinfonia.ingest.loading import Batch
from sinfonia.ingest.sources.spec import SourceSpec
from sinfonia.ingest.tables import Column, cell_text, normalise, number_text, read_table, year_of

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


def parse(files: list[LandedFile]) -> list[Batch]:
    batches: dict[str, Batch] = {}
    seen: dict[tuple, tuple[str, int]] = {}
    rejected = []
    for f in files:
        for row_number, rec in read_table(f.path, TABLE).records():
            year, year_problem = year_of(rec["goal_year"])
            year = year or number_text(rec["goal_year"])
            goal = number_text(rec["goal"])
            key = (year, normalise(rec["directorate"]), normalise(rec["thematic_line"]))
            problem = None
            if year_problem:
                problem = ("Vigencia", rec["goal_year"], year_problem)
            elif not cell_text(rec["directorate"]) or not cell_text(rec["thematic_line"]):
                problem = ("Dirección Territorial", None, "directorate and thematic line are required")
            elif goal is None or float(goal) < 0 or float(goal) != int(float(goal)):
                problem = ("Meta Asistencias", rec["goal"], "expected an integer ≥ 0")
            elif key in seen:
                problem = ("Línea Temática", rec["thematic_line"],
                           f"duplicate goal (first in {seen[key][0]} row {seen[key][1]})")
            year = year.split(".")[0] if year else "unknown"
            if problem:
                rejected.append((year, f, row_number, problem, rec))
                continue
            seen[key] = (f.file_name, row_number)
            batch = batches.setdefault(year, Batch(SOURCE, year, COLUMNS, published_on=f.published_on))
            if f.sha256 not in batch.files:
                batch.files.append(f.sha256)
            batch.rows.append((f.file_name, row_number, year, cell_text(rec["directorate"]),
                               cell_text(rec["thematic_line"]), str(int(float(goal)))))
    for year, f, row_number, (column, value, reason), rec in rejected:
        batch = batches.setdefault(year, Batch(SOURCE, year, COLUMNS, files=[f.sha256]))
        batch.reject(f.file_name, row_number, column, value, reason, rec)
    return list(batches.values())


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse, drives_monitoring=True)
