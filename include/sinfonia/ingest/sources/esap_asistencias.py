"""ESAP ``asistencias`` export (contract v1, DESIGN.md §4): one row per technical assistance.

CSV (``,`` or ``;``; UTF-8, UTF-8 with BOM or Latin-1) or XLSX. Each export is one batch whose
period is the export date (from the file name ``asistencias_YYYYMMDD`` or the manifest). Every
export is kept in ``raw``: the latest export wins per ``ID Asistencia`` downstream, and the
sequence of exports is the history of states.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache

from sinfonia.ingest.landing import LandedFile
from sinfonia.ingest.loading import Batch
from sinfonia.ingest.sources.spec import Periods, SourceSpec
from sinfonia.ingest.tables import (
    Column,
    SourceFormatError,
    cell_text,
    dane_code,
    normalise,
    number_text,
    read_table,
    year_of,
)

SOURCE = "esap_asistencias"
FOLDER = "esap"
PATTERNS = ("asistencias*.csv", "asistencias*.xlsx")
STATUSES = ("Programada", "En diagnóstico", "Concertada", "En implementación", "Entregada", "Cancelada")
_STATUS_BY_NORM = {normalise(s): s for s in STATUSES}

FIELDS = [  # (raw column, contract header)
    ("assistance_id", "ID Asistencia"),
    ("goal_year", "Vigencia"),
    ("directorate", "Dirección Territorial"),
    ("municipality_code", "Código DANE Municipio"),
    ("department_name", "Departamento"),
    ("municipality_name", "Municipio"),
    ("thematic_line", "Línea Temática"),
    ("team", "Equipo"),
    ("status", "Estado"),
    ("agreed_date", "Fecha Concertación"),
    ("action_plan_date", "Fecha Plan de Acción"),
    ("due_date", "Fecha Entrega Programada"),
    ("delivered_date", "Fecha Entrega Real"),
    ("product", "Producto Entregado"),
    ("public_servants", "Servidores Participantes"),
    ("students", "Estudiantes Vinculados"),
    ("quality_score", "Calificación Calidad"),
    ("satisfaction_score", "Satisfacción Alcaldía"),
    ("observations", "Observaciones"),
]
HEADERS = dict(FIELDS)
OPTIONAL = {"municipality_code", "product", "observations", "satisfaction_score", "team",
            "agreed_date", "action_plan_date", "delivered_date", "quality_score"}
TABLE = [Column(name, (normalise(header),), required=name not in OPTIONAL) for name, header in FIELDS]
COLUMNS = (*[name for name, _ in FIELDS], "export_date")
DATES = ("agreed_date", "action_plan_date", "due_date", "delivered_date")


def parse_date(value: object) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return _parse_date_text(str(value).strip())


@lru_cache(maxsize=1 << 14)  # a few thousand distinct dates per export, each on many rows
def _parse_date_text(s: str) -> date:
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d"):
        try:
            return datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"expected a date dd/mm/yyyy or yyyy-mm-dd, found {s!r}")


def export_date(f: LandedFile) -> date:
    m = re.search(r"(20\d\d)-?(\d\d)-?(\d\d)", f.file_name)
    if m:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if f.published_on:
        return f.published_on
    raise SourceFormatError(
        f"{f.file_name}: cannot tell the export date; name the file asistencias_YYYYMMDD.csv "
        "or list it with published_on in the sources folder's MANIFEST.csv"
    )


def _check(rec: dict, names: dict[tuple[str, str], str] | None,
           exported: date | None = None) -> tuple[dict, tuple[str, object, str] | None]:
    """Typed, normalised values as text, or (column header, value, reason) of the first problem.

    A delivery dated after the export date is quarantined: an export records what has happened,
    so a future Fecha Entrega Real is a typing error (planned dates may lie in the future).
    """
    out = {k: cell_text(v) for k, v in rec.items()}
    if not out["assistance_id"]:
        return out, (HEADERS["assistance_id"], None, "empty natural key")
    year, problem = year_of(rec["goal_year"])
    if year is None:
        return out, (HEADERS["goal_year"], rec["goal_year"], problem)
    out["goal_year"] = year
    status = _STATUS_BY_NORM.get(normalise(rec["status"]))
    if status is None:
        return out, (HEADERS["status"], rec["status"], f"expected one of {', '.join(STATUSES)}")
    out["status"] = status
    parsed = {}
    for col in DATES:
        try:
            parsed[col] = parse_date(rec.get(col))
        except ValueError as exc:
            return out, (HEADERS[col], rec.get(col), str(exc))
        out[col] = parsed[col].isoformat() if parsed[col] else None
    ordered = [(c, parsed[c]) for c in ("agreed_date", "action_plan_date", "delivered_date") if parsed[c]]
    for (c1, d1), (c2, d2) in zip(ordered, ordered[1:], strict=False):
        if d2 < d1:
            return out, (HEADERS[c2], out[c2], f"date before {HEADERS[c1]} ({out[c1]})")
    if exported and parsed["delivered_date"] and parsed["delivered_date"] > exported:
        return out, (HEADERS["delivered_date"], out["delivered_date"],
                     f"delivery date after the export date ({exported.isoformat()})")
    if status == "Entregada" and not parsed["delivered_date"]:
        return out, (HEADERS["delivered_date"], None, "Entregada requires Fecha Entrega Real")
    for col, low, high in (("public_servants", 0, None), ("students", 0, None),
                           ("quality_score", 1, 5), ("satisfaction_score", 1, 5)):
        if out.get(col) is None:
            continue
        num = number_text(rec[col])
        if num is None or float(num) != int(float(num)) or float(num) < low or (high and float(num) > high):
            rng = f"an integer {low}–{high}" if high else f"an integer ≥ {low}"
            return out, (HEADERS[col], rec[col], f"expected {rng}")
        out[col] = str(int(float(num)))
    code = dane_code(rec.get("municipality_code"))
    if code is None and out.get("municipality_code"):
        return out, (HEADERS["municipality_code"], rec["municipality_code"], "expected a 5-digit DANE code")
    if code is None:
        key = (normalise(out["department_name"]), normalise(out["municipality_name"]))
        if not names:
            return out, (HEADERS["municipality_code"], None,
                         "code missing and no DIVIPOLA loaded to resolve the names")
        code = names.get(key)
        if code is None:
            return out, (HEADERS["municipality_name"], out["municipality_name"],
                         "code missing and the names match no DIVIPOLA municipality (or several)")
    out["municipality_code"] = code
    return out, None


def parse(files: list[LandedFile], names: dict[tuple[str, str], str] | None = None) -> list[Batch]:
    batches = []
    for f in files:
        exported = export_date(f)
        batch = Batch(SOURCE, exported.isoformat(), COLUMNS, files=[f.sha256], published_on=exported)
        seen: dict[str, int] = {}
        table = read_table(f.path, TABLE)
        batch.note_headers(f.file_name, table.headers)
        for row_number, rec in table.records():
            out, problem = _check(rec, names, exported)
            if problem is None and out["assistance_id"] in seen:
                problem = (HEADERS["assistance_id"], out["assistance_id"],
                           f"duplicate in this export (first at row {seen[out['assistance_id']]})")
            if problem:
                batch.reject(f.file_name, row_number, problem[0], problem[1], problem[2], rec)
                continue
            seen[out["assistance_id"]] = row_number
            batch.rows.append((f.file_name, row_number, *[out[c] for c, _ in FIELDS], exported.isoformat()))
        batches.append(batch)
    return batches


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse, periods=Periods.PER_FILE,
                  resolves_divipola_names=True, divipola_code="municipality_code", after=("divipola",),
                  drives_monitoring=True,
                  note="After DIVIPOLA: rows that give only names are resolved against it.")
