"""ESAP ``asistencias`` export (contract v1, DESIGN.md §4): one row per technical assistance.

CSV (``,`` or ``;``; UTF-8, UTF-8 with BOM or Latin-1) or XLSX. Each export is one batch whose
period is the export date (from the file name ``asistencias_YYYYMMDD`` or the manifest). Every
export is kept in ``raw``: the latest export wins per ``ID Asistencia`` downstream, and the
sequence of exports is the history of states.
"""

from __future__ import annotations

import re
from datetime import date

from sinfonia.ingest.landing import LandedFile
from sinfonia.ingest.loading import Batch
from sinfonia.ingest.sources.contract import Field, Kind, RowContract, account_for_columns, record_of
from sinfonia.ingest.sources.spec import Periods, SourceSpec
from sinfonia.ingest.tables import (
    Column,
    SourceFormatError,
    normalise,
    read_table,
)

SOURCE = "esap_asistencias"
FOLDER = "esap"
PATTERNS = ("asistencias*.csv", "asistencias*.xlsx")
STATUSES = ("Programada", "En diagnóstico", "Concertada", "En implementación", "Entregada", "Cancelada")

HEADERS = {  # raw column → contract header
    "assistance_id": "ID Asistencia", "goal_year": "Vigencia", "directorate": "Dirección Territorial",
    "municipality_code": "Código DANE Municipio", "department_name": "Departamento", "municipality_name": "Municipio",
    "thematic_line": "Línea Temática", "team": "Equipo", "status": "Estado", "agreed_date": "Fecha Concertación",
    "action_plan_date": "Fecha Plan de Acción", "due_date": "Fecha Entrega Programada",
    "delivered_date": "Fecha Entrega Real", "product": "Producto Entregado",
    "public_servants": "Servidores Participantes", "students": "Estudiantes Vinculados",
    "quality_score": "Calificación Calidad", "satisfaction_score": "Satisfacción Alcaldía",
    "observations": "Observaciones",
}
OPTIONAL = {"municipality_code", "product", "observations", "satisfaction_score", "team",
            "agreed_date", "action_plan_date", "delivered_date", "quality_score"}
TABLE = [Column(name, (normalise(header),), required=name not in OPTIONAL) for name, header in HEADERS.items()]
COLUMNS = (*HEADERS, "export_date")
# The row contract, in the order the rules are checked (the first problem of a row is its reason).
_KINDS = {"assistance_id": Field("assistance_id", key=True, required=True),
          "goal_year": Field("goal_year", Kind.YEAR, required=True),
          "status": Field("status", Kind.ENUM, required=True, values={s: s for s in STATUSES}),
          **{d: Field(d, Kind.DATE) for d in ("agreed_date", "action_plan_date", "due_date", "delivered_date")},
          **{c: Field(c, Kind.INTEGER, range=(0, None), scale=False) for c in ("public_servants", "students")},
          **{c: Field(c, Kind.INTEGER, range=(1, 5), scale=False) for c in ("quality_score", "satisfaction_score")},
          "municipality_code": Field("municipality_code", Kind.CODE)}
FIELDS = (*_KINDS.values(), *(Field(c) for c in HEADERS if c not in _KINDS))


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


def _check(out: dict, names: dict[tuple[str, str], str] | None, exported: date) -> tuple[str, object, str] | None:
    """The rules that are this export's own, on a row the contract read: dates in their order, no
    delivery after the export date (an export records what has happened; planned dates may lie in
    the future), Entregada with its delivery date, and a missing code resolved from the names."""
    ordered = [c for c in ("agreed_date", "action_plan_date", "delivered_date") if out[c]]
    for c1, c2 in zip(ordered, ordered[1:], strict=False):
        if out[c2] < out[c1]:
            return HEADERS[c2], out[c2], f"date before {HEADERS[c1]} ({out[c1]})"
    if out["delivered_date"] and out["delivered_date"] > exported.isoformat():
        return HEADERS["delivered_date"], out["delivered_date"], f"delivery date after the export date ({exported})"
    if out["status"] == "Entregada" and not out["delivered_date"]:
        return HEADERS["delivered_date"], None, "Entregada requires Fecha Entrega Real"
    if out["municipality_code"] is None:
        if not names:
            return HEADERS["municipality_code"], None, "code missing and no DIVIPOLA loaded to resolve the names"
        out["municipality_code"] = names.get((normalise(out["department_name"]), normalise(out["municipality_name"])))
        if out["municipality_code"] is None:
            return (HEADERS["municipality_name"], out["municipality_name"],
                    "code missing and the names match no DIVIPOLA municipality (or several)")
    return None


def parse(files: list[LandedFile], names: dict[tuple[str, str], str] | None = None) -> list[Batch]:
    batches = []
    for f in files:
        exported = export_date(f)
        batch = Batch(SOURCE, exported.isoformat(), COLUMNS, files=[f.sha256], published_on=exported)
        contract = RowContract(FIELDS)  # a duplicate ID within one export
        table = read_table(f.path, TABLE)
        for row_number, rec in table.records():
            out, problem = contract.check(table, row_number, rec)
            problem = problem or _check(out, names, exported)
            if problem:
                batch.reject(f.file_name, row_number, *problem, record_of(table, rec))
                continue
            contract.keep(table, row_number, out)
            batch.rows.append((f.file_name, row_number, *(out[c] for c in HEADERS), exported.isoformat()))
        account_for_columns(batch, table)  # an optional column the export lacks is named
        batches.append(batch)
    return batches


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse, periods=Periods.PER_FILE,
                  resolves_divipola_names=True, divipola_code="municipality_code", after=("divipola",),
                  drives_monitoring=True,
                  note="After DIVIPOLA: rows that give only names are resolved against it.")
