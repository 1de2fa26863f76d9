"""IMRC, Índice Municipal de Riesgo de Desastres ajustado por Capacidades (DNP).

``IMRC-BASE-DE-DATOS-<edition>.xlsx``: sheets ``Exceso de Lluvias`` and ``Deficit de Lluvias``;
row 1 holds titles, row 2 the headers (with line breaks and double spaces, found by name: the
``DIVIPOLA`` code, ``Departamento``, ``Municipio``, the adjusted index ``(IMRC_E)`` /
``(IMRC_D)`` and the ``Grupo de Capacidad`` of the sheet when present). Scale 0–100, higher is
more risk. One batch per edition and hazard (``2024-exceso``, ``2024-deficit``).

Published statements in the index cell (``Sin población expuesta``, ``No reportado``) are
recorded as missing with the text kept in ``notes``; any other text is quarantined. Decimal
commas are read as decimals. Text is never turned into a number.
"""

from __future__ import annotations

from datetime import date

from sinfonia.ingest.landing import LandedFile
from sinfonia.ingest.loading import Batch
from sinfonia.ingest.sources.contract import Field, Kind, RowContract
from sinfonia.ingest.sources.spec import SourceSpec
from sinfonia.ingest.tables import (
    Column,
    Contains,
    SourceFormatError,
    cell_text,
    find_table,
    municipality_code,
    normalise,
    number_text,
    read_xlsx_sheets,
    resolve_period,
)

SOURCE = "imrc"
FOLDER = "imrc"
PATTERNS = ("*.xlsx",)
COLUMNS = (
    "edition", "hazard", "municipality_code", "department_name", "municipality_name", "imrc",
    "capacity_group", "notes",
)
# What UNGRD publishes in the index's place where there is no index: read as missing, text kept.
PUBLISHED_STATEMENTS = ("Sin población expuesta", "No reportado", "No aplica")
STATEMENTS = tuple(normalise(s) for s in PUBLISHED_STATEMENTS)
# The row contract: the code (the key) and the index on its published 0–100; names and group as published.
FIELDS = (Field("municipality_code", Kind.CODE, key=True, required=True), Field("department_name"),
          Field("municipality_name"),
          Field("imrc", Kind.NUMBER, required=True, range=(0.0, 100.0), statements=PUBLISHED_STATEMENTS),
          Field("capacity_group"))


def _table(hazard: str, letter: str) -> list[Column]:
    return [
        Column("municipality_code", ("divipola", "codigo dane", "cod dane", "codigo divipola", "codigo")),
        Column("department_name", ("departamento",), required=False),
        Column("municipality_name", ("municipio", "nombre municipio"), required=False),
        Contains("imrc", (f"(imrc {letter})", f"imrc {letter}")),
        Contains("capacity_group", ("grupo de capacidad", "grupo capacidad"), required=False),
    ]


SHEETS = {"exceso": _table("exceso", "e"), "deficit": _table("deficit", "d")}


def default_published_on(edition: int) -> date:
    return date(edition, 6, 30)


def edition_of(f: LandedFile, period: str | None = None) -> int:
    """The edition: the year in the file name, else ``--year``; a conflict is an error."""
    try:
        return resolve_period(f.file_name, given=period)
    except SourceFormatError as exc:
        if "cannot tell the year" not in str(exc):
            raise
        raise SourceFormatError(
            f"{f.file_name}: cannot tell the IMRC edition: expected a year in the file name "
            "(IMRC-BASE-DE-DATOS-2024.xlsx) or --year"
        ) from None


def parse(files: list[LandedFile], period: str | None = None) -> list[Batch]:
    batches: list[Batch] = []
    for f in files:
        edition = edition_of(f, period)
        sheets = read_xlsx_sheets(f.path)
        for hazard, columns in SHEETS.items():
            # The sheet whose header holds the hazard's adjusted index, whatever its name
            # ('Exceso de Lluvias', 'Deficit de Lluvias' as published).
            try:
                table = find_table(f.file_name, sheets, columns)
            except SourceFormatError as exc:
                raise SourceFormatError(
                    f"{f.file_name}: no sheet like '{hazard.capitalize()} de Lluvias' ({exc})") from None
            batch = Batch(SOURCE, f"{edition}-{hazard}", COLUMNS, files=[f.sha256],
                          published_on=f.published_on or default_published_on(edition))
            contract = RowContract(FIELDS)
            for row_number, rec in table.records():
                if municipality_code(rec["municipality_code"])[0] is None and \
                        sum(cell_text(v) is not None for v in rec.values()) <= 1:
                    batch.notes_skipped += 1  # sources and notes under the data
                    continue
                text = cell_text(rec["imrc"])
                # A published statement in the index cell: recorded as missing, its text kept.
                stated = text is not None and number_text(text) is None and normalise(text) in STATEMENTS
                row = contract.row(batch, table, row_number, rec, given={"imrc": None} if stated else None)
                if row is not None:
                    batch.rows.append((f.file_name, row_number, str(edition), hazard,
                                       *(row[c] for c in COLUMNS[2:-1]),
                                       f"{table.headers['imrc']}: {text!r} recorded as missing" if stated else None))
            contract.finish(batch, table)  # the scale check; an optional column it lacks is named
            batches.append(batch)
    return batches


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse, year_fallback=True,
                  divipola_code="municipality_code", after=("divipola",))
