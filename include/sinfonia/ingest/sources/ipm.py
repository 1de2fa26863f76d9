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
from sinfonia.ingest.sources.spec import SourceSpec
from sinfonia.ingest.tables import (
    Column,
    Contains,
    SourceFormatError,
    cell_text,
    check_scale,
    dane_code,
    find_table,
    normalise,
    number_text,
    read_csv_rows,
    read_xlsx_sheets,
    scale_problem,
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


def _entity(value) -> tuple[str, str] | None:
    text = cell_text(value)
    if text is None:
        return None
    digits = text.split(".")[0] if text.replace(".", "").isdigit() else text
    if digits.isdigit() and len(digits) <= 2:
        return "departamento", digits.zfill(2)
    code = dane_code(value)
    return ("municipio", code) if code else None


def _load(f: LandedFile, table, batch: Batch, required: str, optional: tuple[str, ...],
          headers: dict[str, str]) -> None:
    batch.note_headers(f.file_name, headers)
    seen: dict[str, int] = {}
    outside: dict[str, list[tuple[int, str]]] = {}
    checked = 0
    for row_number, rec in table.records():
        record = {headers[k]: cell_text(v) for k, v in rec.items()}
        filled = [v for v in rec.values() if cell_text(v) is not None]
        entity = _entity(rec["entity_code"])
        labels = normalise(rec["entity_code"]) + " " + normalise(rec.get("entity_name"))
        if entity is None and (len(filled) <= 1 or labels.strip().startswith(NOTE_WORDS)):
            batch.notes_skipped += 1  # sources, notes and the national total under the data
            continue
        if entity is None:
            batch.reject(f.file_name, row_number, headers["entity_code"], rec["entity_code"],
                         "expected a DANE code (5 digits for a municipality, 2 for a department)", record)
            continue
        level, code = entity
        if code in seen:
            batch.reject(f.file_name, row_number, headers["entity_code"], code,
                         f"duplicate code (first at row {seen[code]})", record)
            continue
        main = number_text(rec[required])
        if main is None:
            batch.reject(f.file_name, row_number, headers[required], rec[required],
                         "expected a percentage (text is never turned into a number)", record)
            continue
        values, notes = [], []
        for col in optional:
            v = number_text(rec[col])
            if v is None and cell_text(rec[col]) is not None:
                notes.append(f"{headers[col]}: {cell_text(rec[col])!r} recorded as missing")
            values.append(v)
        checked += 1
        bad = [(col, v) for col, v in zip((required, *optional), (main, *values), strict=False)
               if v is not None and not PERCENT[0] <= float(v) <= PERCENT[1]]
        for col, v in bad:
            outside.setdefault(col, []).append((row_number, v))
        if bad:
            batch.reject(f.file_name, row_number, headers[bad[0][0]], bad[0][1], scale_problem(*PERCENT), record)
            continue
        seen[code] = row_number
        batch.rows.append((f.file_name, row_number, YEAR, level, code, cell_text(rec.get("entity_name")),
                           main, *values, "; ".join(notes) or None))
    for col, values_outside in outside.items():  # a scale error refuses the file; isolated values are quarantined
        check_scale(table.where, headers[col], PERCENT, values_outside, checked)


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
            _load(f, table, batch(SOURCE, COLUMNS, f), "ipm", ("ipm_cabecera", "ipm_rural"), table.headers)
            try:
                table = find_table(f.file_name, sheets, PRIVATION_TABLE)
            except SourceFormatError:
                table = None  # the privations sheet is optional
            if table is not None:
                first, *rest = PRIVATIONS
                _load(f, table, batch(PRIVATIONS_SOURCE, PRIVATION_COLUMNS, f), first, tuple(rest), table.headers)
        elif suffix in (".csv", ".txt"):
            rows = read_csv_rows(f.path)
            table = table_from_rows(f.file_name, None, rows, DOMAINS)
            _load(f, table, batch(SOURCE, COLUMNS, f), "ipm", ("ipm_cabecera", "ipm_rural"), table.headers)
        else:
            raise SourceFormatError(f"{f.file_name}: expected the DANE annex (.xlsx) or the five-column CSV")
    return list(batches.values())


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse, extra_tables={PRIVATIONS_SOURCE: PRIVATION_COLUMNS},
                  divipola_code="entity_code", after=("divipola",),
                  note="Also loads raw.ipm_privations (the annex's 15 privations sheet).")
