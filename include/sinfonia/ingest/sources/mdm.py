"""MDM, Medición del Desempeño Municipal (DNP): municipality × year × component.

Two published forms, both accepted:

- datos.gov.co ``nkjx-rsq7`` (Socrata), long format: one record per entity, year and indicator
  (``codigo_entidad``, ``entidad``, ``departamento``, ``indicador`` = ``MDM`` /
  ``Componente de gestión`` / ``Componente de resultados`` ..., ``dato`` as *text*, possibly
  with a decimal comma, ``anio``), as saved JSON pages or as the CSV export.
- DNP's workbook ``Base de datos - mdm (Oct 24).xlsx`` or ``Base y diccionario 2024``: one row
  per municipality-year (``cmpio``, ``nmpio``, ``año``, ``grupo``, ``gestion``, ``resultados``,
  ``mdm`` and many more) in the sheet whose header row holds those columns, whatever its name
  (``Base``, or ``Base y diccionario 2024(Bas (2)`` once re-saved) and wherever the header row is.
  ``grupo`` is kept as published (``C``, ``1``–``5`` or ``G1``–``G5``; staging maps them). Its
  departmental sibling (MDD: ``cdpto``, ``ndpto``, ``mdd``) has the same shape; it
  is recognised by its headers and loaded as ``entity_level = 'departamento'`` under its own
  periods (``<year>-departamentos``), so a folder holding both never mixes them and the
  municipal marts ignore it.

Sub-dimensions: the workbook also publishes the dimensions of each component, kept when present
(optional columns, same 0–100 scale check and quarantine as the scores): gestión's
``movilizacion``, ``ejecucion``, ``gobierno`` (gobierno abierto y transparencia) and ``ot``
(ordenamiento territorial; MDD has ``planeacion`` instead, not kept) and resultados' ``educacion``,
``salud``, ``servicios``, ``seguridad``, as ``mdm_movilizacion``, ``mdm_ejecucion``,
``mdm_gobierno_abierto``, ``mdm_ordenamiento_territorial``, ``mdm_educacion``, ``mdm_salud``,
``mdm_servicios``, ``mdm_seguridad``. The ``g…``/``r…`` indicator columns beneath them are not
kept. The Socrata long format is not known to publish the dimensions (its ~22,000 records for
2016–2020 are about four indicators per municipality-year); a record whose ``indicador`` is one
of those bare names would map the same way.

``raw.mdm`` is long: one row per entity, year and published indicator. A Socrata record is one
raw row; a workbook row gives one raw row per indicator column found (``mdm``, ``gestion``,
``resultados``, the dimensions and the capacity group when present), so for workbooks the
reconciled unit is the entity-year-indicator value, each loaded or quarantined on its own with the
workbook row and column; an empty cell publishes no value and gives no row. A value that is not a number (``ND``,
``Sin información``) is quarantined, never coerced.

Scale: every score is published on 0–100. A workbook whose score column is out of that range in
more than 1 % of its values (such as 0–100 read as 0–10,000, a decimal comma lost when a user
re-saved it) is refused before anything loads, with what was found and the likely cause; an
isolated value out of range is quarantined. DNP itself publishes a few scores just above 100
(2024 seguridad: 100.13–100.23): values up to ``100 + PUBLISHED_OVERSHOOT`` load as published and
are flagged in ``meta.load_run.message`` (and the extract's output). Nothing is rescaled. A year
before 2000 or after next year is quarantined.
The same entity, year and indicator read twice (a folder holding the Socrata pages *and* the
workbook) is quarantined as a duplicate naming the first occurrence: nothing is double counted.
One batch per year: a new file for a year replaces that year.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sinfonia.ingest.landing import LandedFile
from sinfonia.ingest.loading import Batch
from sinfonia.ingest.sources.contract import NOT_A_NUMBER, duplicate, first_at, in_range, out_of_range
from sinfonia.ingest.sources.spec import SourceSpec
from sinfonia.ingest.tables import (
    Column,
    SourceFormatError,
    cell_text,
    check_scale,
    dane_code,
    find_table,
    find_tables,
    municipality_code,
    normalise,
    number_text,
    read_csv_rows,
    read_xlsx_sheets,
    table_from_rows,
    year_in_name,
    year_of,
)

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
# The dimensions of each component, as DNP's workbook names them (MDD has no ``ot``).
DIMENSIONS = {
    "movilizacion": "mdm_movilizacion", "ejecucion": "mdm_ejecucion", "gobierno": "mdm_gobierno_abierto",
    "ot": "mdm_ordenamiento_territorial", "educacion": "mdm_educacion", "salud": "mdm_salud",
    "servicios": "mdm_servicios", "seguridad": "mdm_seguridad",
}
INDICATORS.update(DIMENSIONS)
NUMERIC = ("mdm", "mdm_gestion", "mdm_resultados", *DIMENSIONS.values())
SCORE_RANGE = (0.0, 100.0)  # DNP publishes every MDM score on 0–100
# ... but publishes a few scores just above 100: the 2024 seguridad dimension is 100.13–100.23 for
# 14 municipalities with no recorded theft, homicide or domestic violence (the dimension is not
# capped). Values up to 100 + this load as published and are flagged (meta.load_run.message);
# the raw and marts gates allow the same margin (test_mdm ties them to this constant).
PUBLISHED_OVERSHOOT = 1.0
LOADABLE_RANGE = (SCORE_RANGE[0], SCORE_RANGE[1] + PUBLISHED_OVERSHOOT)

LONG = [
    Column("entity_code", ("codigo entidad", "codigo", "cod entidad", "codigo dane")),
    Column("entity_name", ("entidad", "municipio"), required=False),
    Column("department_name", ("departamento",), required=False),
    Column("indicator", ("indicador",)),
    Column("value", ("dato", "valor")),
    Column("year", ("anio", "ano", "year", "vigencia")),
]


def _wide(code: str, name: str, total: str) -> list[Column]:
    cols = [
        Column("entity_code", (code,)),
        Column("entity_name", (name,), required=False),
        Column("year", ("ano", "anio", "year", "vigencia")),
        Column("mdm_gestion", ("gestion",)),
        Column("mdm_resultados", ("resultados",)),
        Column("mdm", (total,)),
        Column("capacity_group", tuple(k for k, v in INDICATORS.items() if v == "capacity_group"),
               required=False),
        *(Column(indicator, (published,), required=False) for published, indicator in DIMENSIONS.items()),
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
        self.seen: dict[tuple, tuple[str, str | None, int]] = {}
        self.pending: list[tuple] = []  # rejections whose year is unknown
        self.code_headers: dict[str, str] = {}  # file → its entity code column's header
        self.over: dict[str, list[tuple]] = {}  # period → values above 100 loaded as published

    def batch(self, year: str, level: str, f: LandedFile) -> Batch:
        period = year if level == "municipio" else f"{year}-departamentos"
        b = self.batches.get(period)
        if b is None:
            published = f.published_on or (default_published_on(int(year)) if year.isdigit() else None)
            b = self.batches[period] = Batch(SOURCE, period, COLUMNS, published_on=published)
        if f.sha256 not in b.files:
            b.files.append(f.sha256)
        return b

    def add(self, f: LandedFile, row_number: int, level: str, year_cell, code, name, dept,
            published: str, value, fmt: str, column: str, record: dict, indicator: str | None = None) -> None:
        indicator = indicator or INDICATORS.get(normalise(published))
        year, problem = year_of(year_cell)
        if problem:  # quarantined under the year it states when it states one, plausible or not
            stated = (number_text(year_cell) or "").split(".")[0]
            year = stated if len(stated) == 4 and stated.isdigit() else None
            problem = ("anio", cell_text(year_cell), problem)
        elif level == "municipio":
            entity, why = municipality_code(code)  # the one strict code parser
        else:  # an MDD row: the department's 2 digits (or its DIVIPOLA form 05000)
            entity = dane_code(code, 5)
            entity = (entity[:2] if entity and entity.endswith("000") else None) or dane_code(code, 2)
            why = "expected a 2-digit DANE department code"
        if not problem and entity is None:
            problem = ("codigo_entidad" if fmt == "socrata" else column.split(":")[0], cell_text(code), why)
        if problem:
            self.pending.append((year, level, f, row_number, problem, record))
            return
        b = self.batch(year, level, f)
        label = None
        number = number_text(value)
        if indicator in NUMERIC and number is None:
            b.reject(f.file_name, row_number, column, value, NOT_A_NUMBER, record)
            return
        if indicator in NUMERIC and not in_range(number, LOADABLE_RANGE):
            b.reject(f.file_name, row_number, column, value, out_of_range(SCORE_RANGE), record)
            return
        if indicator not in NUMERIC:
            label, number = cell_text(value), None
        key = (level, entity, year, indicator or normalise(published))
        if key in self.seen:
            b.reject(f.file_name, row_number, column, value,
                     duplicate("entity, year and indicator", f"{entity}/{year}/{published}",
                               first_at(*self.seen[key], f.file_name, None)), record)
            return
        self.seen[key] = (f.file_name, None, row_number)
        if indicator in NUMERIC and float(number) > SCORE_RANGE[1]:
            self.over.setdefault(b.period, []).append((indicator, f.file_name, row_number, column, number))
        b.rows.append((f.file_name, row_number, year, level, entity, cell_text(name), cell_text(dept),
                       indicator, cell_text(published), number, label, fmt))

    def result(self) -> list[Batch]:
        for year, level, f, row_number, (column, value, reason), record in self.pending:
            year = year or "unknown"
            self.batch(year, level, f).reject(f.file_name, row_number, column, value, reason, record)
        for period, values in self.over.items():
            numbers = sorted(float(v[4]) for v in values)
            indicator, file_name, row_number, column, number = values[0]
            self.batches[period].notices.append(
                f"{len(values)} value(s) above 100 loaded as published ({', '.join(sorted({v[0] for v in values}))}: "
                f"{numbers[0]:g}–{numbers[-1]:g}; first: {file_name}, row {row_number}, column {column!r}: {number}); "
                "DNP publishes a few scores just above its 0–100 scale "
                f"(up to {LOADABLE_RANGE[1]:g} is taken as published)")
        for b in self.batches.values():
            for file_name, header in self.code_headers.items():
                b.note_headers(file_name, {"entity_code": header})
        return list(self.batches.values())


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
    out.code_headers[f.file_name] = table.headers["entity_code"]
    for row_number, rec in table.records():
        number = row_number - 1 if is_json else row_number
        out.add(f, number, "municipio", rec["year"], rec["entity_code"], rec["entity_name"],
                rec.get("department_name"), cell_text(rec["indicator"]) or "", rec["value"], "socrata",
                "dato", {k: cell_text(v) for k, v in rec.items()})


def _parse_workbook(f: LandedFile, out: _Batches) -> None:
    """DNP's base under any sheet name (``Base``, or ``Base y diccionario 2024(Bas (2)`` once a
    user re-saved it): the sheet whose header row holds the municipal (or MDD) columns."""
    sheets = read_xlsx_sheets(f.path)
    try:
        table, level = find_table(f.file_name, sheets, MUNICIPAL), "municipio"
    except SourceFormatError as municipal_error:
        try:
            table, level = find_table(f.file_name, sheets, DEPARTMENTAL), "departamento"
        except SourceFormatError:
            try:
                results = find_tables(f.file_name, sheets, RESULTS_PROBE)
            except SourceFormatError:
                raise SourceFormatError(
                    f"{municipal_error} (nor is it the departmental MDD layout: cdpto, ndpto, año, "
                    "gestion, resultados, mdd; nor DNP's yearly results: Código DANE, Puntaje MDM <year>)"
                ) from None
            for probe in results:
                _parse_results(f, sheets[probe.sheet], probe, out)
            return
    headers = table.headers
    out.code_headers[f.file_name] = headers["entity_code"]
    _check_workbook_scale(table)
    for row_number, rec in table.records():
        record = {headers[k]: cell_text(v) for k, v in rec.items()}
        for indicator in (*NUMERIC, "capacity_group"):
            if indicator not in table.positions or cell_text(rec[indicator]) is None:
                continue  # an empty cell publishes no value (94343 has no score 2016–2020)
            out.add(f, row_number, level, rec["year"], rec["entity_code"], rec["entity_name"],
                    rec.get("department_name"), headers[indicator], rec[indicator], "dnp_workbook",
                    headers[indicator], record)


# DNP's yearly results workbook (``ResultadosMDM2018.xlsx``): one sheet per year, no year column
# (the year is in the headers, the sheet and the file name), ``Código DANE``, the capacity group as
# ``Grupo`` or ``Grupo de capacidades iniciales``, the four management dimensions, ``Puntaje Gestión``
# or ``Gestión <year>``, the results dimensions (``Educación <year>`` …), ``Puntaje Resultados <year>``
# or ``Resultados <year>`` (beside the previous year's), ``Puntaje MDM <year>`` or ``MDM <year>``.
RESULTS_PROBE = [
    Column("entity_code", ("codigo dane", "codigo dane municipio", "codigo municipio")),
    Column("mdm", ("puntaje mdm", "mdm"), prefix=True),
]
_RESULTS_DIMENSIONS = {
    "mdm_movilizacion": ("movilizacion de recursos", "movilizacion"),
    "mdm_ejecucion": ("ejecucion de recursos", "ejecucion"),
    "mdm_ordenamiento_territorial": ("ordenamiento territorial",),
    "mdm_gobierno_abierto": ("gobierno abierto y transparencia", "gobierno abierto"),
    "mdm_educacion": ("educacion",), "mdm_salud": ("salud",), "mdm_servicios": ("servicios",),
    "mdm_seguridad": ("seguridad",),
}


def _results_columns(year: int) -> list[Column]:
    def both(*names: str) -> tuple[str, ...]:  # '<name> <year>' first, then the bare name
        return tuple(f"{n} {year}" for n in names) + names
    return [
        Column("entity_code", RESULTS_PROBE[0].aliases),
        Column("entity_name", ("municipio", "nombre municipio"), required=False),
        Column("department_name", ("departamento",), required=False),
        Column("capacity_group", ("grupo de capacidades iniciales", "grupo", "grupo de capacidades",
                                  "grupo dotaciones iniciales"), required=False),
        Column("mdm_gestion", both("puntaje gestion", "gestion")),
        Column("mdm_resultados", both("puntaje resultados", "resultados")),
        Column("mdm", both("puntaje mdm", "mdm")),
        *(Column(indicator, both(*names), required=False) for indicator, names in _RESULTS_DIMENSIONS.items()),
    ]


def _results_year(f: LandedFile, probe) -> int:
    """The year of a results sheet: in its MDM header, its sheet name and the file name; they must agree."""
    stated = [(int(y), where) for y, where in (
        (year_in_name(probe.headers["mdm"]), f"the header {probe.headers['mdm']!r}"),
        (year_in_name(probe.sheet or ""), f"the sheet name {probe.sheet!r}"),
        (year_in_name(f.file_name), f"the file name {f.file_name!r}"),
    ) if y is not None]
    if not stated:
        raise SourceFormatError(f"{probe.where}: DNP's yearly MDM results without a year in the headers, the "
                                "sheet name or the file name; expected 'Puntaje MDM <year>' or 'MDM <year>'")
    year, where = stated[0]
    for other, other_where in stated[1:]:
        if other != year:
            raise SourceFormatError(f"{probe.where}: {where} says {year} but {other_where} says {other}; "
                                    "correct one of them")
    return year


def _parse_results(f: LandedFile, rows: list[tuple], probe, out: _Batches) -> None:
    year = _results_year(f, probe)
    table = table_from_rows(f.file_name, probe.sheet, rows, _results_columns(year))
    headers = table.headers
    missing = [n for n in table.missing if n in NUMERIC or n in ("capacity_group", "entity_name", "department_name")]
    if missing:  # no optional column disappears without a word (sources.contract)
        out.batch(str(year), "municipio", f).notices.append(
            f"{table.where}: no column for " + ", ".join(f"{n} (a header such as {table.missing[n]!r})"
                                                          for n in missing) + "; loaded without it")
    out.code_headers[f.file_name] = headers["entity_code"]
    _check_workbook_scale(table)
    for row_number, rec in table.records():
        if all(cell_text(rec[i]) is None for i in ("mdm", "mdm_gestion", "mdm_resultados")) and \
                municipality_code(rec["entity_code"])[0] is None:
            continue  # footnotes and sources below the table
        record = {headers[k]: cell_text(v) for k, v in rec.items()}
        for indicator in (*NUMERIC, "capacity_group"):
            if indicator not in table.positions or cell_text(rec[indicator]) is None:
                continue
            out.add(f, row_number, "municipio", year, rec["entity_code"], rec.get("entity_name"),
                    rec.get("department_name"), headers[indicator], rec[indicator], "dnp_results",
                    headers[indicator], record, indicator=indicator)


def _check_workbook_scale(table) -> None:
    """Scores out of 0–100 in more than a few rows: the file is refused before anything loads."""
    for indicator in (i for i in NUMERIC if i in table.positions):
        outside = []
        read = 0
        for row_number, rec in table.records():
            number = number_text(rec[indicator])
            if number is None:
                continue
            read += 1
            if not LOADABLE_RANGE[0] <= float(number) <= LOADABLE_RANGE[1]:
                outside.append((row_number, number))
        check_scale(table.where, table.headers[indicator], SCORE_RANGE, outside, read, over=PUBLISHED_OVERSHOOT)


def parse(files: list[LandedFile]) -> list[Batch]:
    out = _Batches()
    for f in files:
        suffix = Path(f.file_name).suffix.lower()
        if suffix == ".json":
            _parse_long(f, _json_records(f), out)
        elif suffix in (".csv", ".txt"):
            _parse_long(f, read_csv_rows(f.path), out)
        elif suffix in (".xlsx", ".xlsm"):
            _parse_workbook(f, out)
        else:
            raise SourceFormatError(f"{f.file_name}: expected a Socrata JSON page, a CSV export or the DNP workbook")
    return out.result()


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse, divipola_code="entity_code", after=("divipola",))
