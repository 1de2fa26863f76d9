"""DIVIPOLA (DANE): municipality and department codes.

Two forms of the datos.gov.co dataset ``gdxc-w37w``: the Socrata JSON API (pages fetched with
``$limit``/``$offset``/``$order``, saved as ``*.json``) and the CSV export. Both become one
batch per edition of the code list: ``--year`` or the year in the file name, else ``current``.
Editions accumulate (each load replaces only its own edition); the 2025 export, with two more
columns (coordinates), loads the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

from sinfonia.ingest.landing import LandedFile
from sinfonia.ingest.loading import Batch
from sinfonia.ingest.sources.spec import Periods, SourceSpec
from sinfonia.ingest.tables import (
    Column,
    SourceFormatError,
    cell_text,
    check_not_empty_or_html,
    dane_code,
    normalise,
    read_table,
    year_in_name,
)

SOURCE = "divipola"
FOLDER = "divipola"
PATTERNS = ("*.json", "*.csv")
DATASET = "gdxc-w37w"
COLUMNS = ("department_code", "municipality_code", "department_name", "municipality_name", "entity_type")

CSV_COLUMNS = [
    Column("department_code", ("codigo departamento", "cod dpto", "cod_dpto")),
    Column("municipality_code", ("codigo municipio", "cod mpio", "cod_mpio")),
    Column("department_name", ("nombre departamento", "dpto", "departamento")),
    Column("municipality_name", ("nombre municipio", "nom mpio", "nom_mpio", "municipio")),
    Column("entity_type", ("tipo",), prefix=True),
]

ENTITY_TYPES = {"municipio": "municipio", "isla": "isla", "area no municipalizada": "area_no_municipalizada"}


def _json_records(path: Path):
    check_not_empty_or_html(path, "a JSON array of records (a Socrata page)")
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceFormatError(f"{path.name}: not valid JSON ({exc}); expected a JSON array of "
                                "records (a Socrata page)") from exc
    if not isinstance(data, list):
        raise SourceFormatError(f"{path.name}: expected a JSON array of records (a Socrata page), "
                                f"found a JSON {type(data).__name__}")
    for i, rec in enumerate(data, start=1):
        if not isinstance(rec, dict):
            raise SourceFormatError(f"{path.name}: record {i} is a JSON {type(rec).__name__}, "
                                    "expected an object of fields")
        typ = next((v for k, v in rec.items() if k.startswith("tipo")), None)
        yield i, {
            "department_code": rec.get("cod_dpto"),
            "municipality_code": rec.get("cod_mpio"),
            "department_name": rec.get("dpto"),
            "municipality_name": rec.get("nom_mpio"),
            "entity_type": typ,
        }


def edition_of(f: LandedFile, period: str | None = None) -> str:
    """The edition a file belongs to: ``--year`` (or the manifest's period), else the year in its
    name (``DIVIPOLA_2025.csv``), else ``current`` (the copy of the day, as the API serves it)."""
    if period:
        return str(period)
    year = year_in_name(f.file_name)
    return str(year) if year else "current"


def parse(files: list[LandedFile], period: str | None = None) -> list[Batch]:
    """One batch per edition: loading a newer edition adds a period and keeps the older ones, so
    entities that are gone stay known (staging marks them not current, with the editions in
    which each was first and last seen)."""
    editions: dict[str, list[LandedFile]] = {}
    for f in files:
        editions.setdefault(edition_of(f, period), []).append(f)
    return [_edition(edition, group) for edition, group in sorted(editions.items())]


def _edition(edition: str, files: list[LandedFile]) -> Batch:
    batch = Batch(SOURCE, edition, COLUMNS, files=[f.sha256 for f in files])
    batch.published_on = max((f.published_on for f in files if f.published_on), default=None)
    seen: dict[str, tuple[str, int]] = {}
    for f in sorted(files, key=lambda f: f.file_name):
        if f.path.suffix.lower() == ".json":
            records = _json_records(f.path)
        else:
            records = read_table(f.path, CSV_COLUMNS).records()
        for row_number, rec in records:
            code = dane_code(rec["municipality_code"])
            dept = dane_code(rec["department_code"], 2)
            etype = ENTITY_TYPES.get(normalise(rec["entity_type"]))
            if code is None:
                batch.reject(f.file_name, row_number, "municipality_code", rec["municipality_code"],
                             "expected a DANE municipality code of up to 5 digits", rec)
            elif dept is None or code[:2] != dept:
                batch.reject(f.file_name, row_number, "department_code", rec["department_code"],
                             f"expected the 2-digit department code {code[:2]} of municipality {code}", rec)
            elif etype is None:
                batch.reject(f.file_name, row_number, "entity_type", rec["entity_type"],
                             "expected Municipio, Isla or Área no municipalizada", rec)
            elif code in seen:
                batch.reject(f.file_name, row_number, "municipality_code", code,
                             f"duplicate code: already in {seen[code][0]} row {seen[code][1]}", rec)
            else:
                seen[code] = (f.file_name, row_number)
                batch.rows.append((f.file_name, row_number, dept, code,
                                   cell_text(rec["department_name"]), cell_text(rec["municipality_name"]), etype))
    return batch


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse, periods=Periods.GIVEN)
