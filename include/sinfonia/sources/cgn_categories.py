"""Municipal categories (Ley 617 de 2000), CGN ``HISTORICOS.xlsx``, sheet ``HISTORIA-CAT-MUNIC``.

Years run across the sheet as pairs of header cells ``Vigencia``, ``<year>`` (row 6 in the
published file): the category for that year sits in the column headed ``Vigencia``. The code
(numeric, zero-padded here), department and municipality columns are found by name in the header
row or the row below it; data start below. After the latest year a ``categorizado por`` column
says who set it (``AUTOCAT``, ``INFO CGR`` ...). Values: ``E``/``ESP``/``ESPECIAL``, ``1``–``6``
and ``SIN`` (no category that year); an empty cell means the municipality had none published.

One batch per year (a sheet of 24 years gives 24 periods), each with one raw row per data row
of the sheet: every row is loaded (with its published value, text as published) or quarantined
when the value is none of the above.
"""

from __future__ import annotations

import re
from datetime import date

from sinfonia.landing import LandedFile
from sinfonia.loading import Batch
from sinfonia.sources._tables import (
    Column, SourceFormatError, cell_text, dane_code, normalise, read_xlsx_sheets,
)
from sinfonia.sources.spec import SourceSpec

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


def parse(files: list[LandedFile]) -> list[Batch]:
    batches: dict[int, Batch] = {}
    for f in files:
        sheets = read_xlsx_sheets(f.path)
        name = next((s for s in sheets if normalise(s) == SHEET), None)
        if name is None:
            raise SourceFormatError(f"{f.file_name}: no sheet 'HISTORIA-CAT-MUNIC' (sheets: {list(sheets)})")
        rows = sheets[name]
        idx, years, cols, by = _header(rows, f)
        latest = max(years)
        for y in years:
            if y in batches:
                raise SourceFormatError(f"{f.file_name}: year {y} also given by another file")
            batches[y] = Batch(SOURCE, str(y), COLUMNS, files=[f.sha256],
                               published_on=f.published_on if f.published_on and y == latest
                               else default_published_on(y))
        get = lambda row, i: row[i] if i is not None and i < len(row) else None  # noqa: E731
        seen: dict[str, int] = {}
        for offset, row in enumerate(rows[idx + 1:], start=idx + 2):
            if not any(cell_text(v) is not None for v in row):
                continue
            raw_code = get(row, cols["municipality_code"])
            code = dane_code(raw_code)
            record = {"codigo": cell_text(raw_code), "departamento": cell_text(get(row, cols.get("department_name"))),
                      "municipio": cell_text(get(row, cols.get("municipality_name")))}
            filled = [v for v in row if cell_text(v) is not None]
            if code is None and (len(filled) <= 1 or offset == idx + 2):
                for b in batches.values():  # notes under the data, the sub-header row
                    if f.sha256 in b.files:
                        b.notes_skipped += 1
                continue
            duplicate = seen.get(code) if code else None
            for y, col in years.items():
                b = batches[y]
                value = get(row, col)
                rec = {**record, f"Vigencia {y}": cell_text(value)}
                if code is None:
                    b.reject(f.file_name, offset, "código", raw_code, "expected a DANE municipality code", rec)
                elif duplicate:
                    b.reject(f.file_name, offset, "código", code, f"duplicate municipality (first at row {duplicate})", rec)
                elif category_of(value) is False:
                    b.reject(f.file_name, offset, f"Vigencia {y}", value,
                             "expected a category: E (especial), 1–6 or SIN", rec)
                else:
                    b.rows.append((f.file_name, offset, str(y), code, record["departamento"], record["municipio"],
                                   cell_text(value), category_of(value),
                                   cell_text(get(row, by)) if y == latest else None))
            if code:
                seen.setdefault(code, offset)
    return list(batches.values())


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse)
