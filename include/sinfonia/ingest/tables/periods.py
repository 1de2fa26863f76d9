"""Periods: the year a file, sheet or title row states, and the plausible range of years."""

from __future__ import annotations

import re

from sinfonia.ingest.tables.cells import SourceFormatError, cell_text, column_letter, normalise, number_text

_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_LABELLED_YEAR = re.compile(r"^(?:ano|anio|vigencia|periodo|year)\s*:?\s*((?:19|20)\d\d)$")


def plausible_year_problem(year: int | str | None) -> str | None:
    """Why a year is not plausible for these sources (before 2000 or after next year), or None."""
    from datetime import date

    try:
        y = int(str(year).split(".")[0])
    except (TypeError, ValueError):
        return f"expected a year such as {date.today().year - 1}"
    latest = date.today().year + 1
    if not 2000 <= y <= latest:
        return f"year {y} outside the plausible range 2000–{latest}"
    return None


def year_in_name(name: str) -> int | None:
    """The one year a file or sheet name gives ('CT01 Categorizacion 2021.xlsx' → 2021); None
    when it gives none or several different ones."""
    years = {int(y) for y in _YEAR.findall(name)}
    return years.pop() if len(years) == 1 else None


def years_in_titles(rows: list[tuple]) -> dict[int, str]:
    """Years stated in title or metadata rows, with where: a cell that is a year ('2021'), a
    labelled year ('Vigencia 2018', 'Año 2024') or a label cell followed by a year cell
    ('Año' | 2024). Free text ('Ley 617 de 2000') is not read as a period."""
    found: dict[int, str] = {}
    for r, row in enumerate(rows, start=1):
        cells = [(i, cell_text(v)) for i, v in enumerate(row) if cell_text(v) is not None]
        for k, (i, text) in enumerate(cells):
            where = f"cell {column_letter(i)}{r} ({text!r})"
            key = normalise(text)
            m = _LABELLED_YEAR.match(key)
            if re.fullmatch(r"(19|20)\d\d(\.0+)?", text):
                found.setdefault(int(text.split(".")[0]), where)
            elif m:
                found.setdefault(int(m.group(1)), where)
            elif key in ("ano", "anio", "vigencia", "year") and k + 1 < len(cells):
                nxt = cells[k + 1][1]
                if re.fullmatch(r"(19|20)\d\d(\.0+)?", nxt):
                    found.setdefault(int(nxt.split(".")[0]), f"cells {column_letter(i)}{r}–"
                                     f"{column_letter(cells[k + 1][0])}{r} ({text!r} {nxt!r})")
    return found


def resolve_period(file_name: str, *, sheet: str | None = None, titles: list[tuple] = (),
                   given: str | int | None = None) -> int:
    """The period of a file that holds one: from its name, else a title or metadata cell (or the
    sheet's name), else ``given`` (``--year``). Every source that states one must agree: a
    conflict is an error naming both."""
    stated: list[tuple[int, str]] = []
    if (y := year_in_name(file_name)) is not None:
        stated.append((y, f"the file name ({file_name!r})"))
    title_years = years_in_titles(titles)
    if len(title_years) > 1:
        raise SourceFormatError(
            f"{file_name}: the title rows give several years: "
            + ", ".join(f"{y} in {w}" for y, w in title_years.items()) + "; pass --year to choose"
        )
    stated += [(y, f"the title {w}" + (f" of sheet {sheet!r}" if sheet else "")) for y, w in title_years.items()]
    if sheet and (y := year_in_name(sheet)) is not None:
        stated.append((y, f"the sheet name {sheet!r}"))
    if given not in (None, ""):
        stated.append((int(str(given)[:4]), f"--year {given}"))
    if not stated:
        raise SourceFormatError(
            f"{file_name}: cannot tell the year: no year in the file name or its title rows; "
            "pass --year (or list the file with its period in MANIFEST.csv)"
        )
    first, where = stated[0]
    for y, other in stated[1:]:
        if y != first:
            raise SourceFormatError(f"{file_name}: {where} says {first} but {other} says {y}; "
                                    "correct one of them")
    return first


def year_of(value: object) -> tuple[str | None, str | None]:
    """(year as text, None) or (None, why not) for a year cell ('2024', 2024, 2024.0): four
    digits, within the plausible range (``plausible_year_problem``)."""
    s = number_text(value)
    if s is None or not re.fullmatch(r"\d{4}(\.0+)?", s):
        return None, "expected a year such as 2024"
    s = s.split(".")[0]
    problem = plausible_year_problem(s)
    return (None, problem) if problem else (s, None)
