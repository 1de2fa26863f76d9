"""IPM, Índice de Pobreza Multidimensional municipal, census 2018 (DANE).

The official annex ``anexo-censal-pobreza-municipal-2018.xlsx`` has numbered sheets with
displaced headers (title rows above, header found by name):

- ``4_IPM Mpio dominios``: ``ID``, ``Municipio``, ``Total``, ``Cabeceras``,
  ``Centros poblados y rural disperso`` → ``raw.ipm`` (ipm, ipm_cabecera, ipm_rural);
- ``6_Privaciones IPM Dpt-Mpio``: ``ID``, ``Municipio`` and the 15 privations (header on the
  second row) → ``raw.ipm_privations``, one column per privation.

The derived five-column CSV (``cod_municipio, municipio, ipm_total, ipm_cabecera, ipm_rural``)
is accepted too, as ``raw.ipm``. Values are % of persons (0–100). A total that is not a number is
quarantined; a cabecera or rural cell holding text (``-`` where a municipality has no such area)
is recorded as missing, with the published text kept in ``notes``, never turned into a number.
Rows whose code has 2 digits are departments (the privations sheet holds both).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

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
    read_csv_rows,
    read_xlsx_sheets,
    table_from_rows,
)

SOURCE = "ipm"
PRIVATIONS_SOURCE = "ipm_privations"
FOLDER = "ipm"
PATTERNS = ("*.xlsx", "*.csv")
YEAR = "2018"
COLUMNS = ("year", "entity_level", "entity_code", "entity_name", "ipm", "ipm_cabecera", "ipm_rural", "notes")


CODE = Column("entity_code", ("id", "cod municipio", "codigo municipio", "codigo", "cod dane", "codigo dane"))
NAME = Column("entity_name", ("municipio", "nombre municipio", "departamento/municipio"), required=False)
DOMAINS = [
    CODE, NAME,
    Column("ipm", ("total", "ipm total", "ipm", "ipm municipal")),
    Column("ipm_cabecera", ("cabeceras", "cabecera", "ipm cabecera", "ipm cabeceras")),
    Column("ipm_rural", ("centros poblados y rural disperso", "ipm rural", "rural",
                         "ipm centros poblados y rural disperso")),
]
PRIVATIONS = {
    "analfabetismo": ("analfabetismo",),
    "bajo_logro_educativo": ("bajo logro educativo",),
    "barreras_primera_infancia": ("primera infancia",),
    "inasistencia_escolar": ("inasistencia escolar",),
    "rezago_escolar": ("rezago escolar",),
    "trabajo_infantil": ("trabajo infantil",),
    "barreras_salud": ("barreras de acceso a servicios de salud", "barreras de acceso a salud",
                       "acceso a servicios de salud"),
    "sin_aseguramiento_salud": ("aseguramiento",),
    "tasa_dependencia": ("dependencia",),
    "trabajo_informal": ("trabajo informal", "empleo informal"),
    "hacinamiento_critico": ("hacinamiento",),
    "eliminacion_excretas": ("excretas",),
    "material_paredes": ("paredes",),
    "material_pisos": ("pisos",),
    "sin_agua_mejorada": ("agua mejorada",),
}
PRIVATION_TABLE = [CODE, NAME, *(Contains(k, v) for k, v in PRIVATIONS.items())]
PRIVATION_COLUMNS = ("year", "entity_level", "entity_code", "entity_name", *PRIVATIONS, "notes")


NOTE_WORDS = ("total", "nacional", "fuente", "nota")
PERCENT = (0.0, 100.0)  # every published value is a % of persons


def default_published_on() -> date:
    """DANE released the census-based municipal IPM in 2020 (used when no manifest says)."""
    return date(2020, 3, 31)


def _code(value) -> tuple[str | None, str | None]:
    """A department's 2-digit code (the privations sheet holds both levels), else the municipality's."""
    text = cell_text(value) or ""
    digits = text.split(".")[0] if text.replace(".", "").isdigit() else text
    return (digits.zfill(2), None) if digits.isdigit() and len(digits) <= 2 else municipality_code(value)


def _load(f: LandedFile, table, batch: Batch, required: str, optional: tuple[str, ...]) -> None:
    contract = RowContract((Field("entity_code", key=True, required=True, convert=_code), Field("entity_name"),
                            *(Field(c, Kind.NUMBER, required=c == required, range=PERCENT)
                              for c in (required, *optional))))
    for row_number, rec in table.records():
        labels = normalise(rec["entity_code"]) + " " + normalise(rec.get("entity_name"))
        if contract._value(contract.fields[0], rec["entity_code"])[0] is None and (
                sum(cell_text(v) is not None for v in rec.values()) <= 1 or labels.strip().startswith(NOTE_WORDS)):
            batch.notes_skipped += 1  # sources, notes and the national total under the data
            continue
        # Text in an optional cell ('-' where a municipality has no such area) is recorded as missing.
        missing = [c for c in optional if number_text(rec[c]) is None and cell_text(rec[c]) is not None]
        row = contract.row(batch, table, row_number, rec, given=dict.fromkeys(missing))
        if row is not None:
            batch.rows.append((f.file_name, row_number, YEAR, "departamento" if len(row["entity_code"]) == 2
                               else "municipio", *(row[c] for c in ("entity_code", "entity_name", required, *optional)),
                               "; ".join(f"{table.headers[c]}: {cell_text(rec[c])!r} recorded as missing"
                                         for c in missing) or None))
    contract.finish(batch, table)  # a scale error refuses the file; an optional column it lacks is named


def parse(files: list[LandedFile]) -> list[Batch]:
    batches: dict[str, Batch] = {}

    def batch(source: str, columns, f: LandedFile) -> Batch:
        b = batches.get(source) or batches.setdefault(
            source, Batch(source, YEAR, columns, published_on=f.published_on or default_published_on()))
        b.files.append(f.sha256)
        return b

    for f in files:
        suffix = Path(f.file_name).suffix.lower()
        if suffix in (".xlsx", ".xlsm"):
            # Sheets found by content ('4_IPM Mpio dominios', '6_Privaciones IPM Dpt-Mpio' as published).
            sheets = read_xlsx_sheets(f.path)
            table = find_table(f.file_name, sheets, DOMAINS)
            _load(f, table, batch(SOURCE, COLUMNS, f), "ipm", ("ipm_cabecera", "ipm_rural"))
            try:
                table = find_table(f.file_name, sheets, PRIVATION_TABLE)
            except SourceFormatError:
                table = None  # the privations sheet is optional
            if table is not None:
                first, *rest = PRIVATIONS
                _load(f, table, batch(PRIVATIONS_SOURCE, PRIVATION_COLUMNS, f), first, tuple(rest))
        elif suffix in (".csv", ".txt"):
            rows = read_csv_rows(f.path)
            table = table_from_rows(f.file_name, None, rows, DOMAINS)
            _load(f, table, batch(SOURCE, COLUMNS, f), "ipm", ("ipm_cabecera", "ipm_rural"))
        else:
            raise SourceFormatError(f"{f.file_name}: expected the DANE annex (.xlsx) or the five-column CSV")
    return list(batches.values())


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse, extra_tables={PRIVATIONS_SOURCE: PRIVATION_COLUMNS},
                  divipola_code="entity_code", after=("divipola",),
                  note="Also loads raw.ipm_privations (the annex's 15 privations sheet).")
