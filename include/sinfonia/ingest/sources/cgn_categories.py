"""Municipal categories (Ley 617 de 2000) from the CGN: ``HISTORICOS.xlsx`` (every vigencia) or
the yearly report CT01 (one vigencia), each recognised by its content, whatever the sheet names.

**HISTORICOS.xlsx**, sheet ``HISTORIA-CAT-MUNIC``:
Years run across the sheet as pairs of header cells ``Vigencia``, ``<year>`` (row 6 in the
published file): the category for that year sits in the column headed ``Vigencia``. The code
(numeric, zero-padded here), department and municipality columns are found by name in the header
row or the row below it; data start below. After the latest year a ``categorizado por`` column
says who set it (``AUTOCAT``, ``INFO CGR`` ...). Values: ``E``/``ESP``/``ESPECIAL``, ``1``–``6``
and ``SIN`` (no category that year); an empty cell means the municipality had none published.

One batch per year (a sheet of 24 years gives 24 periods), each with one raw row per data row
of the sheet: every row is loaded (with its published value, text as published) or quarantined
when the value is none of the above.

**CT01 "Categorización de Municipios"**: the vigencia in the title rows (or the file name, or
``--year``; a conflict is an error); header row 8 (``Código CGN, Municipio, Nombre, Población
DANE, ICLD …, Categoría``) under section rows such as ``1 - Entidades categorizadas por el
ministerio del interior``, repeated with each section; the section is kept as
``categorised_by``. ``Código CGN`` is numeric, 9 digits ending with the DIVIPOLA code (8 when the
leading zero fell off); a few newer municipalities have codes that embed none (``CGN_CODES``).
``Municipio`` is a formula (its cached value is kept, the code is what counts); ``Nombre`` is the
department. The departmental sheet is recognised by its codes and left out. One batch: the vigencia.

Precedence: the by-municipality sheet is the categorisation of its vigencia and loads. The historic
sheet, where present (``Categoría con historicos``, titled ``Municipios histórico anterior a
2018``), lists municipalities whose category CGN carries from its records before 2018 (2021:
Talaigua Nuevo, 13780, absent from the municipal sheet); it is read and every row of it is
quarantined with that reason, never loaded as a second truth for the vigencia (CT01 2021: 957
municipalities in category 6, as the municipal sheet gives).
"""

from __future__ import annotations

import re
from datetime import date

from sinfonia.ingest.landing import LandedFile
from sinfonia.ingest.loading import Batch
from sinfonia.ingest.sources import contract
from sinfonia.ingest.sources.spec import SourceSpec
from sinfonia.ingest.tables import (
    Column,
    SourceFormatError,
    cell_text,
    find_tables,
    header_key,
    holds_departments,
    municipality_code,
    normalise,
    plausible_year_problem,
    read_xlsx_sheets,
    resolve_period,
)

SOURCE = "cgn_categories"
FOLDER = "cgn"
PATTERNS = ("*.xlsx",)
COLUMNS = ("year", "municipality_code", "department_name", "municipality_name", "category_published",
           "category", "categorised_by")
SHEET = "historia-cat-munic"
NAMES = [
    Column("municipality_code", ("codigo", "codigo dane", "cod dane", "cod", "divipola", "codigo municipio",
                                 "cod municipio", "dane")),
    Column("department_name", ("departamento", "dpto"), required=False),
    Column("municipality_name", ("municipio", "nombre municipio", "entidad"), required=False),
]


def default_published_on(year: int) -> date:
    """Categories for year Y are set before 31 October of Y-1; CGN certifies by late November."""
    return date(year - 1, 11, 30)


CATEGORY_PROBLEM = "expected a category: E or ESP (especial), 1–6 or SIN"


def category_of(value) -> str | None | bool:
    """'E', '1'…'6', None for SIN or empty; False when the value is not a category."""
    text = cell_text(value)
    if text is None:
        return None
    norm = normalise(text).replace(" ", "").replace(".", "")
    if norm in ("e", "esp", "especial", "categoriaespecial", "cate"):
        return "E"
    if re.fullmatch(r"[1-6](0*)", norm) or re.fullmatch(r"[1-6](a|ra|da|ta|na)?", norm):
        return norm[0]
    if norm in ("sin", "sincategoria", "sc"):
        return None
    return False


def _year_columns(row: tuple) -> dict[int, int]:
    """{year: column of its 'Vigencia' cell} from a header row of pairs."""
    out: dict[int, int] = {}
    for i, v in enumerate(row):
        if normalise(v) == "vigencia" and i + 1 < len(row):
            y = cell_text(row[i + 1])
            if y and re.fullmatch(r"(19|20)\d\d", y.split(".")[0]):
                out[int(y.split(".")[0])] = i
    return out


def _header(rows: list[tuple], f: LandedFile) -> tuple[int, dict[int, int], dict[str, int], int | None]:
    for idx, row in enumerate(rows[:30]):
        years = _year_columns(row)
        if len(years) < 1:
            continue
        found: dict[str, int] = {}
        for r in rows[idx: idx + 2]:
            headers = [normalise(v) for v in r]
            for col in NAMES:
                if col.name not in found:
                    pos = next((p for p, h in enumerate(headers) if h and col.matches(h)), None)
                    if pos is not None:
                        found[col.name] = pos
        if "municipality_code" not in found:
            raise SourceFormatError(
                f"{f.file_name}, sheet {SHEET.upper()!r}: header row {idx + 1} has the 'Vigencia' pairs "
                f"but no code column (one of {list(NAMES[0].aliases)})"
            )
        by = next((p for p, h in enumerate(normalise(v) for v in row) if "categorizado por" in h), None)
        return idx, years, found, by
    raise SourceFormatError(
        f"{f.file_name}, sheet {SHEET.upper()!r}: no header row with pairs 'Vigencia', <year> in the first 30 rows"
    )


def _historic_sheet(sheets: dict[str, list[tuple]]) -> str | None:
    """The sheet with 'Vigencia', <year> header pairs (``HISTORIA-CAT-MUNIC``), by content."""
    named = [s for s in sheets if normalise(s) == SHEET]
    for name in named + [s for s in sheets if s not in named]:
        if any(_year_columns(row) for row in sheets[name][:30]):
            return name
    return None


def parse(files: list[LandedFile], period: str | None = None) -> list[Batch]:
    """``HISTORICOS.xlsx`` (every vigencia) or a yearly CT01 report (one vigencia), each
    recognised by its content, whatever the sheet names."""
    batches: dict[int, Batch] = {}
    for f in files:
        sheets = read_xlsx_sheets(f.path)
        name = _historic_sheet(sheets)
        if name is not None:
            _parse_historic(f, sheets[name], batches)
        else:
            try:
                _parse_ct01(f, sheets, batches, period)
            except SourceFormatError as exc:
                if "no sheet has a header row" not in str(exc):
                    raise
                raise SourceFormatError(
                    f"{f.file_name}: neither HISTORICOS (no header row with pairs 'Vigencia', <year> in "
                    f"any sheet) nor a CT01 report ({exc})") from None
    return list(batches.values())


def _new_batch(batches: dict[int, Batch], f: LandedFile, year: int, published_on) -> Batch:
    if year in batches:
        raise SourceFormatError(f"{f.file_name}: year {year} also given by another file")
    batches[year] = Batch(SOURCE, str(year), COLUMNS, files=[f.sha256], published_on=published_on)
    return batches[year]


def _parse_historic(f: LandedFile, rows: list[tuple], batches: dict[int, Batch]) -> None:
    idx, years, cols, by = _header(rows, f)
    latest = max(years)
    code_header = next((" ".join(str(r[cols["municipality_code"]]).split()) for r in rows[idx: idx + 2]
                        if cols["municipality_code"] < len(r) and cell_text(r[cols["municipality_code"]])), "código")
    for y in years:
        _new_batch(batches, f, y, f.published_on if f.published_on and y == latest else default_published_on(y))
        batches[y].note_headers(f.file_name, {"municipality_code": code_header})
    get = lambda row, i: row[i] if i is not None and i < len(row) else None  # noqa: E731
    seen: dict[str, int] = {}
    for offset, row in enumerate(rows[idx + 1:], start=idx + 2):
        if not any(cell_text(v) is not None for v in row):
            continue
        raw_code = get(row, cols["municipality_code"])
        code, code_problem = municipality_code(raw_code)
        record = {"codigo": cell_text(raw_code), "departamento": cell_text(get(row, cols.get("department_name"))),
                  "municipio": cell_text(get(row, cols.get("municipality_name")))}
        filled = [v for v in row if cell_text(v) is not None]
        if code is None and (len(filled) <= 1 or offset == idx + 2):
            for y in years:  # notes under the data, the sub-header row
                batches[y].notes_skipped += 1
            continue
        duplicate = seen.get(code) if code else None
        for y, col in years.items():
            b = batches[y]
            value = get(row, col)
            rec = {**record, f"Vigencia {y}": cell_text(value)}
            if plausible_year_problem(y):
                b.reject(f.file_name, offset, f"Vigencia {y}", y, plausible_year_problem(y), rec)
            elif code is None:
                b.reject(f.file_name, offset, "código", raw_code, code_problem, rec)
            elif duplicate:
                b.reject(f.file_name, offset, "código", code,
                         contract.duplicate("municipality code", code, f"row {duplicate}"), rec)
            elif category_of(value) is False:
                b.reject(f.file_name, offset, f"Vigencia {y}", value, CATEGORY_PROBLEM, rec)
            else:
                b.rows.append((f.file_name, offset, str(y), code, record["departamento"], record["municipio"],
                               cell_text(value), category_of(value),
                               cell_text(get(row, by)) if y == latest else None))
        if code:
            seen.setdefault(code, offset)


# CGN's yearly report CT01 "Categorización de Municipios": sheets by municipality, by department
# and (some years) a historic one; title rows give the vigencia; section rows ('2 - Categorizadas
# por la Contaduría con información del CGR') say who set the category and repeat the header.
CT01 = [
    Column("municipality_code", ("codigo cgn", "codigo", "codigo entidad", "codigo dane")),
    Column("municipality_name", ("municipio",), required=False),
    Column("department_name", ("nombre", "departamento"), required=False),
    Column("category", ("categoria",)),
]
# CGN entity codes that do not end with the DIVIPOLA code: municipalities created after CGN's
# scheme was set get codes in the 9232xxxxx range (as published in CT01 2021, with their names).
CGN_CODES = {
    "923270346": "19300",  # Guachené, Cauca
    "923271490": "23815",  # Tuchín, Córdoba
    "923271475": "23682",  # San José de Uré, Córdoba
    "923271489": "13490",  # Norosí, Bolívar
    "923272927": "94343",  # Barrancominas, Guainía
}
_SECTION = re.compile(r"^\s*\d+\s*-\s*(.+)$")


def _section(row: tuple) -> re.Match | None:
    """A section row ('2 - Categorizadas por la Contaduría…'): its only text cell, numbered."""
    texts = [cell_text(v) for v in row if cell_text(v) is not None]
    return _SECTION.match(texts[0]) if len(texts) == 1 else None


def _title(table) -> str | None:
    """The sheet's subtitle ('Categorización por Municipios', 'Municipios histórico anterior a
    2018'): the second text cell of the title rows."""
    texts = [cell_text(v) for row in table.above for v in row if cell_text(v) is not None]
    return texts[1] if len(texts) > 1 else None


def _parse_ct01(f: LandedFile, sheets: dict[str, list[tuple]], batches: dict[int, Batch],
                period: str | None) -> None:
    tables = []
    for table in find_tables(f.file_name, sheets, CT01):
        if not holds_departments(table, "municipality_code"):  # not 'Categorización por Departamentos'
            tables.append(table)
    if not tables:
        raise SourceFormatError(f"{f.file_name}: a CT01 report without a sheet of municipalities "
                                f"(sheets: {list(sheets)})")
    years = {resolve_period(f.file_name, sheet=t.sheet, titles=t.above, given=period) for t in tables}
    if len(years) > 1:
        raise SourceFormatError(f"{f.file_name}: the sheets give different vigencias {sorted(years)}")
    year = years.pop()
    batch = _new_batch(batches, f, year, f.published_on or default_published_on(year))
    year_problem = plausible_year_problem(year)
    categories = contract.RowContract(CT01_FIELDS)  # one municipality once, across the sheets
    historic = {id(t): _title(t) for t in tables if _title(t) and "historic" in normalise(_title(t))}
    for table in sorted(tables, key=lambda t: id(t) in historic):  # the by-municipality sheet first
        section = historic.get(id(table))
        by = section or next((m.group(1).strip() for r in reversed(table.above) if (m := _section(r))), None)
        for row_number, values in table.rows:
            rec = {name: (values[i] if i < len(values) else None) for name, i in table.positions.items()}
            if m := _section(values):
                by = m.group(1).strip()  # a section row: who categorised the rows below
                batch.notes_skipped += 1
                continue
            filled = [v for v in values if cell_text(v) is not None]
            if header_key(cell_text(rec["municipality_code"]) or "") in {header_key(a) for a in CT01[0].aliases} or (
                    len(filled) <= 1 and municipality_code(rec["municipality_code"])[0] is None):
                batch.notes_skipped += 1  # the repeated header, footer lines and notes
                continue
            record = {**contract.record_of(table, rec), "sheet": table.sheet}
            out, problem = categories.check(table, row_number, rec)
            if year_problem:
                problem = ("vigencia", str(year), year_problem)
            elif problem is None and section is not None:
                problem = (table.headers["category"], cell_text(rec["category"]),
                           f"historic sheet {table.sheet!r} ({section.strip()}): the category CGN kept from its "
                           f"records before 2018, not one set for vigencia {year}; the by-municipality sheet is "
                           f"the {year} categorisation and does not list {out['municipality_code']}")
            if problem:
                batch.reject(f.file_name, row_number, *problem, record)
                continue
            categories.keep(table, row_number, out)
            batch.rows.append((f.file_name, row_number, str(year), out["municipality_code"], out["department_name"],
                               out["municipality_name"], cell_text(rec["category"]), out["category"], by))
        contract.account_for_columns(batch, table)  # the names or category a sheet lacks are named


def _cgn_code(value) -> tuple[str | None, str | None]:
    """The DIVIPOLA code of a CGN entity code: its last digits, or ``CGN_CODES`` for the 9232… codes."""
    text = cell_text(value) or ""
    if len(text) == 9 and text.startswith("9232"):  # never the DIVIPOLA code in its last digits
        return CGN_CODES.get(text), None if text in CGN_CODES else (
            f"CGN code {text} embeds no DIVIPOLA code and is not among the known ones (CGN_CODES in {__name__}); "
            "add it with its DIVIPOLA code")
    return municipality_code(value)


CT01_FIELDS = (
    contract.Field("municipality_code", contract.Kind.CODE, key=True, required=True, convert=_cgn_code),
    contract.Field("department_name"), contract.Field("municipality_name"),
    contract.Field("category", convert=lambda v: (None, CATEGORY_PROBLEM) if category_of(v) is False
                   else (category_of(v), None)),
)


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse, year_fallback=True,
                  divipola_code="municipality_code", after=("divipola",))
