"""DIVIPOLA (DANE): municipality and department codes.

Two forms of the datos.gov.co dataset ``gdxc-w37w``: the Socrata JSON API (pages fetched with
``$limit``/``$offset``/``$order``, saved as ``*.json``) and the CSV export. Both become one
batch per edition of the code list: ``--year`` or the year in the file name, else ``current``.
Editions accumulate (each load replaces only its own edition); the 2025 export, with two more
columns (coordinates), loads the same way.

Coordinates: ``LATITUD``/``LONGITUD`` (API fields ``latitud``/``longitud``) are kept as published,
as text in the raw columns ``latitude`` and ``longitude`` (the Socrata export writes decimal commas,
``6,25184``; DANE's workbook numbers); staging casts them. An edition without them loads nulls.

DANE's own workbook (the geoportal export, ``*.xlsx`` in ``divipola/``) loads too: title rows with
``Actualizado al <date>`` (the edition's publication date, and its year the edition when neither
``--year`` nor the file name gives one), a group row ``Departamento | Municipio | Tipo | …`` above
the header row ``Código | Nombre | Código | Nombre | …`` (read together), footnotes below the table
(counted as notes, not quarantined).
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

from sinfonia.ingest.landing import LandedFile
from sinfonia.ingest.loading import Batch
from sinfonia.ingest.sources.contract import Field, Kind, RowContract, account_for_columns, record_of
from sinfonia.ingest.sources.spec import Periods, SourceSpec
from sinfonia.ingest.tables import (
    HEADER_SCAN_ROWS,
    Column,
    SourceFormatError,
    Table,
    cell_text,
    check_not_empty_or_html,
    dane_code,
    municipality_code,
    normalise,
    read_table,
    read_xlsx_sheets,
    year_in_name,
)

SOURCE = "divipola"
FOLDER = "divipola"
PATTERNS = ("*.json", "*.csv", "*.xlsx")
DATASET = "gdxc-w37w"
COLUMNS = ("department_code", "municipality_code", "department_name", "municipality_name", "entity_type",
           "latitude", "longitude")

CSV_COLUMNS = [
    Column("department_code", ("codigo departamento", "cod dpto", "cod_dpto")),
    Column("municipality_code", ("codigo municipio", "cod mpio", "cod_mpio")),
    Column("department_name", ("nombre departamento", "dpto", "departamento")),
    Column("municipality_name", ("nombre municipio", "nom mpio", "nom_mpio", "municipio")),
    Column("entity_type", ("tipo",), prefix=True),
    Column("latitude", ("latitud", "latitude"), required=False),
    Column("longitude", ("longitud", "longitude"), required=False),
]

ENTITY_TYPES = {"Municipio": "municipio", "Isla": "isla", "Área no municipalizada": "area_no_municipalizada"}
# The Socrata API's field names (JSON pages), as the quarantine names them.
API_FIELDS = {"department_code": "cod_dpto", "municipality_code": "cod_mpio", "department_name": "dpto",
              "municipality_name": "nom_mpio", "entity_type": "tipo", "latitude": "latitud", "longitude": "longitud"}


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
        yield i, {**{column: rec.get(api) for column, api in API_FIELDS.items()}, "entity_type": typ}


def edition_of(f: LandedFile, period: str | None = None) -> str:
    """The edition a file belongs to: ``--year`` (or the manifest's period), else the year in its
    name (``DIVIPOLA_2025.csv``), else the year of a workbook's ``Actualizado al …``, else
    ``current`` (the copy of the day, as the API serves it)."""
    if period:
        return str(period)
    year = year_in_name(f.file_name)
    if year is None and (updated := updated_on(f)) is not None:
        year = updated.year
    return str(year) if year else "current"


MONTHS = {m: i for i, m in enumerate(("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
                                      "septiembre", "octubre", "noviembre", "diciembre"), start=1)}
MONTHS["setiembre"] = 9
_UPDATED = re.compile(r"actualizad[oa] (?:al?|el|en)?\s*(.+)")


def updated_on(f: LandedFile) -> date | None:
    """The date of a workbook's ``Actualizado al 31 de diciembre de 2024`` (or ``al 31/12/2024``)
    in its title rows, None when it has none; a date that cannot be read is an error naming it."""
    if f.path.suffix.lower() not in (".xlsx", ".xlsm"):
        return None
    for rows in read_xlsx_sheets(f.path).values():
        for row in rows[:HEADER_SCAN_ROWS]:
            for cell in row:
                m = _UPDATED.search(normalise(cell_text(cell) or ""))
                if m:
                    return _date(m.group(1), f.file_name, cell_text(cell))
    return None


def _date(text: str, file_name: str, cell: str) -> date:
    words = text.replace(" de ", " ").replace("/", " ").replace("-", " ").split()
    try:
        if len(words) >= 3 and words[1] in MONTHS:
            return date(int(words[2][:4]), MONTHS[words[1]], int(words[0]))
        if len(words) >= 3 and words[0].isdigit() and len(words[0]) == 4:
            return date(int(words[0]), int(words[1]), int(words[2][:2]))
        if len(words) >= 3:
            return date(int(words[2][:4]), int(words[1]), int(words[0]))
    except ValueError:
        pass
    raise SourceFormatError(f"{file_name}: cannot read the date of {cell!r}; expected 'Actualizado al "
                            "31 de diciembre de 2024' or 'Actualizado al 31/12/2024'")


def parse(files: list[LandedFile], period: str | None = None) -> list[Batch]:
    """One batch per edition: loading a newer edition adds a period and keeps the older ones, so
    entities that are gone stay known (staging marks them not current, with the editions in
    which each was first and last seen)."""
    editions: dict[str, list[LandedFile]] = {}
    for f in files:
        editions.setdefault(edition_of(f, period), []).append(f)
    return [_edition(edition, group) for edition, group in sorted(editions.items())]


# The row contract: the code (the key, strict), the entity type (one of three), the rest as published.
FIELDS = (Field("municipality_code", Kind.CODE, key=True, required=True), Field("department_code"),
          Field("department_name"), Field("municipality_name"),
          Field("entity_type", Kind.ENUM, required=True, values=ENTITY_TYPES), Field("latitude"), Field("longitude"))


def _edition(edition: str, files: list[LandedFile]) -> Batch:
    batch = Batch(SOURCE, edition, COLUMNS, files=[f.sha256 for f in files])
    batch.published_on = max((f.published_on or updated_on(f) for f in files if f.published_on or updated_on(f)),
                             default=None)
    contract = RowContract(FIELDS)
    for f in sorted(files, key=lambda f: f.file_name):
        if f.path.suffix.lower() == ".json":
            table = Table(f.file_name, None, 0, {}, [], headers=dict(API_FIELDS))
            records = _json_records(f.path)
        else:
            table = read_table(f.path, CSV_COLUMNS)
            records = table.records()
        for row_number, rec in records:
            code = municipality_code(rec["municipality_code"])[0]
            if code is None and sum(cell_text(v) is not None for v in rec.values()) <= 1:
                batch.notes_skipped += 1  # footnotes and sources below a workbook's table
                continue
            row, problem = contract.check(table, row_number, rec)
            dept = dane_code(rec["department_code"], 2)
            if problem is None and dept != row["municipality_code"][:2]:
                problem = (table.headers["department_code"], cell_text(rec["department_code"]),
                           f"expected the 2-digit department code {code[:2]} of municipality {code}")
            if problem:
                batch.reject(f.file_name, row_number, *problem, record_of(table, rec))
                continue
            contract.keep(table, row_number, row)
            batch.rows.append((f.file_name, row_number, dept, *(row[c] for c in COLUMNS[1:])))
        if table.positions:
            account_for_columns(batch, table)
    return batch


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse, periods=Periods.GIVEN)
