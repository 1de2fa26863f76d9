"""MDM, Medición del Desempeño Municipal (DNP): municipality × year × component.

Two published forms, both accepted:

- datos.gov.co ``nkjx-rsq7`` (Socrata), long format: one record per entity, year and indicator
  (``codigo_entidad``, ``entidad``, ``departamento``, ``indicador`` = ``MDM`` /
  ``Componente de gestión`` / ``Componente de resultados`` ..., ``dato`` as *text*, possibly
  with a decimal comma, ``anio``), as saved JSON pages or as the CSV export.
- DNP's workbook ``Base de datos - mdm (Oct 24).xlsx``: sheet ``Base``, header row 1, one row
  per municipality-year (``cmpio``, ``nmpio``, ``año``, ``gestion``, ``resultados``, ``mdm`` and
  many more). Its departmental sibling (MDD: ``cdpto``, ``ndpto``, ``mdd``) has the same shape; it
  is recognised by its headers and loaded as ``entity_level = 'departamento'`` under its own
  periods (``<year>-departamentos``), so a folder holding both never mixes them and the
  municipal marts ignore it.

``raw.mdm`` is long: one row per entity, year and published indicator. A Socrata record is one
raw row; a workbook row gives one raw row per indicator column found (``mdm``, ``gestion``,
``resultados``, capacity group when present), so for workbooks the reconciled unit is the
entity-year-indicator value, each loaded or quarantined on its own with the workbook row and
column. A value that is not a number (``ND``, ``Sin información``) is quarantined, never coerced.
The same entity, year and indicator read twice (a folder holding the Socrata pages *and* the
workbook) is quarantined as a duplicate naming the first occurrence: nothing is double counted.
One batch per year: a new file for a year replaces that year.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

from sinfonia.landing import LandedFile
from sinfonia.loading import Batch
from sinfonia.sources._tables import (
    Column, SourceFormatError, cell_text, dane_code, normalise, number_text, read_csv_rows,
    read_xlsx_sheets, table_from_rows,
)
from sinfonia.sources.spec import SourceSpec

SOURCE = "mdm"
FOLDER = "mdm"
PATTERNS = ("*.json", "*.csv", "*.xlsx")
COLUMNS = (
    "year", "entity_level", "entity_code", "entity_name", "department_name", "indicator",
    "published_indicator", "value", "value_label", "source_format",
)

# Published indicator names (normalised) → indicator codes of DESIGN.md §5.
INDICATORS = {
    "mdm": "mdm", "mdd": "mdm", "medicion de desempeno municipal": "mdm",
    "componente de gestion": "mdm_gestion", "gestion": "mdm_gestion",
    "componente de resultados": "mdm_resultados", "resultados": "mdm_resultados",
    "grupo de capacidades iniciales": "capacity_group", "grupo dotaciones iniciales": "capacity_group",
    "grupo de dotaciones iniciales": "capacity_group", "grupo capacidades": "capacity_group",
    "grupo": "capacity_group", "gdi": "capacity_group", "dotaciones iniciales": "capacity_group",
}
NUMERIC = ("mdm", "mdm_gestion", "mdm_resultados")

LONG = [
    Column("entity_code", ("codigo entidad", "codigo", "cod entidad", "codigo dane")),
    Column("entity_name", ("entidad", "municipio")),
    Column("department_name", ("departamento",), required=False),
    Column("indicator", ("indicador",)),
    Column("value", ("dato", "valor")),
    Column("year", ("anio", "ano", "year", "vigencia")),
]


def _wide(code: str, name: str, total: str) -> list[Column]:
    cols = [
        Column("entity_code", (code,)),
        Column("entity_name", (name,)),
        Column("year", ("ano", "anio", "year", "vigencia")),
        Column("mdm_gestion", ("gestion",)),
        Column("mdm_resultados", ("resultados",)),
        Column("mdm", (total,)),
        Column("capacity_group", tuple(k for k, v in INDICATORS.items() if v == "capacity_group"),
               required=False),
    ]
    if name == "nmpio":
        cols.append(Column("department_name", ("ndpto", "departamento"), required=False))
    return cols


MUNICIPAL = _wide("cmpio", "nmpio", "mdm")
DEPARTMENTAL = _wide("cdpto", "ndpto", "mdd")


def default_published_on(year: int) -> date:
    """DNP publishes year Y's MDM in the second half of Y+1 (used when no manifest says)."""
    return date(year + 1, 10, 31)


class _Batches:
    """Batches per (year, level), with the duplicate check across every file read."""

    def __init__(self):
        self.batches: dict[str, Batch] = {}
        self.seen: dict[tuple, tuple[str, int]] = {}
        self.pending: list[tuple] = []  # rejections whose year is unknown

    def batch(self, year: str, level: str, f: LandedFile) -> Batch:
        period = year if level == "municipio" else f"{year}-departamentos"
        b = self.batches.get(period)
        if b is None:
            published = f.published_on or (default_published_on(int(year)) if year.isdigit() else None)
            b = self.batches[period] = Batch(SOURCE, period, COLUMNS, published_on=published)
        if f.sha256 not in b.files:
            b.files.append(f.sha256)
        return b

    def add(self, f: LandedFile, row_number: int, level: str, year: str | None, code, name, dept,
            published: str, value, fmt: str, column: str, record: dict) -> None:
        indicator = INDICATORS.get(normalise(published))
        digits = 5 if level == "municipio" else 2
        entity = dane_code(code, 5)
        if entity is not None and level == "departamento":
            entity = entity[:2] if entity.endswith("000") else None
        if entity is None and level == "departamento":
            entity = dane_code(code, 2)
        problem = None
        if year is None:
            problem = ("anio", None, "expected a year such as 2019")
        elif entity is None:
            problem = ("codigo_entidad" if fmt == "socrata" else column.split(":")[0], code,
                       f"expected a {digits}-digit DANE code")
        if problem:
            self.pending.append((year, level, f, row_number, problem, record))
            return
        b = self.batch(year, level, f)
        label = None
        number = number_text(value)
        if indicator in NUMERIC and number is None:
            b.reject(f.file_name, row_number, column, value,
                     f"expected a number for {published!r} (text is never turned into a number)", record)
            return
        if indicator not in NUMERIC:
            label, number = cell_text(value), None
        key = (level, entity, year, indicator or normalise(published))
        if key in self.seen:
            first = self.seen[key]
            b.reject(f.file_name, row_number, column, value,
                     f"duplicate {published!r} for {entity} in {year} (first in {first[0]} row {first[1]})",
                     record)
            return
        self.seen[key] = (f.file_name, row_number)
        b.rows.append((f.file_name, row_number, year, level, entity, cell_text(name), cell_text(dept),
                       indicator, cell_text(published), number, label, fmt))

    def result(self) -> list[Batch]:
        for year, level, f, row_number, (column, value, reason), record in self.pending:
            year = year or "unknown"
            self.batch(year, level, f).reject(f.file_name, row_number, column, value, reason, record)
        return list(self.batches.values())


def _year(value) -> str | None:
    s = number_text(value)
    if s is None or not re.fullmatch(r"(19|20)\d\d(\.0+)?", s):
        return None
    return s.split(".")[0]


def _json_records(f: LandedFile) -> list[tuple]:
    try:
        data = json.loads(Path(f.path).read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceFormatError(f"{f.file_name}: not a Socrata JSON page ({exc})") from exc
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise SourceFormatError(f"{f.file_name}: expected a JSON array of records (a Socrata page)")
    keys = sorted({k for r in data for k in r})
    # Record i is "row" i + 1 of the page (there is no header row in JSON).
    return [tuple(keys)] + [tuple(r.get(k) for k in keys) for r in data]


def _parse_long(f: LandedFile, rows: list[tuple], out: _Batches) -> None:
    is_json = f.file_name.lower().endswith(".json")
    if is_json and len(rows) == 1:
        return  # an empty page: the one that ends Socrata paging
    table = table_from_rows(f.file_name, None, rows, LONG)
    for row_number, rec in table.records():
        number = row_number - 1 if is_json else row_number
        out.add(f, number, "municipio", _year(rec["year"]), rec["entity_code"], rec["entity_name"],
                rec.get("department_name"), cell_text(rec["indicator"]) or "", rec["value"], "socrata",
                "dato", {k: cell_text(v) for k, v in rec.items()})


def _parse_workbook(f: LandedFile, out: _Batches) -> None:
    sheets = read_xlsx_sheets(f.path)
    name = next((s for s in sheets if normalise(s) == "base"), None)
    if name is None:
        raise SourceFormatError(f"{f.file_name}: no sheet 'Base' (sheets: {list(sheets)})")
    rows = sheets[name]
    try:
        table, level = table_from_rows(f.file_name, name, rows, MUNICIPAL), "municipio"
    except SourceFormatError as municipal_error:
        try:
            table, level = table_from_rows(f.file_name, name, rows, DEPARTMENTAL), "departamento"
        except SourceFormatError:
            raise SourceFormatError(
                f"{municipal_error} (nor is it the departmental MDD layout: cdpto, ndpto, año, "
                "gestion, resultados, mdd)"
            ) from None
    headers = {c: str(rows[table.header_row - 1][i]).strip() for c, i in table.positions.items()}
    for row_number, rec in table.records():
        record = {headers[k]: cell_text(v) for k, v in rec.items()}
        year = _year(rec["year"])
        for indicator in ("mdm", "mdm_gestion", "mdm_resultados", "capacity_group"):
            if indicator not in table.positions:
                continue
            out.add(f, row_number, level, year, rec["entity_code"], rec["entity_name"],
                    rec.get("department_name"), headers[indicator], rec[indicator], "dnp_workbook",
                    headers[indicator], record)


def parse(files: list[LandedFile]) -> list[Batch]:
    out = _Batches()
    for f in files:
        suffix = Path(f.file_name).suffix.lower()
        if suffix == ".json":
            _parse_long(f, _json_records(f), out)
        elif suffix == ".csv":
            _parse_long(f, read_csv_rows(f.path), out)
        elif suffix in (".xlsx", ".xlsm"):
            _parse_workbook(f, out)
        else:
            raise SourceFormatError(f"{f.file_name}: expected a Socrata JSON page, a CSV export or the DNP workbook")
    return out.result()


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse)
