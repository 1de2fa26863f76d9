"""Cells and codes: normalised text, header keys, numbers, DANE codes, the published scale."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# How far down a header row may sit (row 17 in DNP's IDF export): the parsers look for it there,
# and so does the intake's roster check (sinfonia.ingest.intake), one constant for both.
HEADER_SCAN_ROWS = 40


class SourceFormatError(ValueError):
    """A file whose layout cannot be understood (names the file and what was expected)."""


def normalise(text: object) -> str:
    """Lower-case ASCII words of a header or a name, for matching ('Código DANE' → 'codigo dane')."""
    return _normalise("" if text is None else str(text))


@lru_cache(maxsize=1 << 16)  # the same few thousand names and statuses recur on every row
def _normalise(s: str) -> str:
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    s = s.lower().replace("\n", " ")
    s = re.sub(r"\b\d+\s*/", " ", s)  # footnote marks: '1/ Autofinanciación', 'Fiscal 7/'
    s = re.sub(r"[^a-z0-9%+()<>=.\- ]", " ", s)
    return re.sub(r"\s+", " ", s).strip()


# Abbreviations publishers use in headers, expanded before matching ('Cod. Departamento').
ABBREVIATIONS = {
    "cod": "codigo", "cdgo": "codigo", "dpto": "departamento", "depto": "departamento",
    "mpio": "municipio", "munic": "municipio", "nom": "nombre", "no": "numero", "nro": "numero",
    "num": "numero", "anio": "ano", "cat": "categoria", "categ": "categoria", "pob": "poblacion",
}


def header_key(text: object) -> str:
    """A header as matched: ``normalise``d, dots, dashes and underscores as spaces, common
    abbreviations expanded ('Cod. Departamento' → 'codigo departamento', 'nom_mpio' →
    'nombre municipio')."""
    return _header_key("" if text is None else str(text))


@lru_cache(maxsize=1 << 12)
def _header_key(s: str) -> str:
    words = re.sub(r"[.\-]", " ", normalise(s)).split()
    return " ".join(ABBREVIATIONS.get(w, w) for w in words)


def cell_text(value: object) -> str | None:
    """A cell as published, as text (None when empty). Floats that are integers lose the '.0'."""
    if value is None:
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    s = str(value).strip()
    return s or None


def dane_code(value: object, digits: int = 5) -> str | None:
    """A DANE code as zero-padded text, or None when the value is not a code."""
    s = cell_text(value)
    if s is None:
        return None
    s = s.strip().lstrip("'")
    if re.fullmatch(r"\d+\.0+", s):
        s = s.split(".")[0]
    if not re.fullmatch(rf"\d{{1,{digits}}}", s):
        return None
    return s.zfill(digits)


def number_text(value: object) -> str | None:
    """A numeric cell as canonical text ('.' decimal), or None when it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return cell_text(value)
    s = cell_text(value)
    if s is None:
        return None
    s = s.replace(" ", "")
    if s.isascii() and s.isdigit():  # most cells: a plain count, read as it is
        return s
    if re.fullmatch(r"-?\d{1,3}(\.\d{3})+,\d+", s):  # 1.234,5
        s = s.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"-?\d+,\d+", s):  # decimal comma
        s = s.replace(",", ".")
    try:
        float(s)
    except ValueError:
        return None
    return s


def column_letter(position: int) -> str:
    """0-based position → spreadsheet column letter (0 → A, 27 → AB)."""
    letters = ""
    n = position + 1
    while n:
        n, r = divmod(n - 1, 26)
        letters = chr(65 + r) + letters
    return letters


# --- codes ----------------------------------------------------------------------------------

# The 33 DANE department codes (2-digit prefixes of every DIVIPOLA municipality code).
DEPARTMENTS = frozenset((
    "05 08 11 13 15 17 18 19 20 23 25 27 41 44 47 50 52 54 63 66 68 70 73 76 81 85 86 88 91 94 "
    "95 97 99").split())


def municipality_code(value: object) -> tuple[str | None, str | None]:
    """(5-digit DIVIPOLA code, None) or (None, why not) for a code in any published form:
    text ('05001', "'05001"), an integer without its leading zero (5001), a float (5001.0) or
    an entity code that ends with the DIVIPOLA code (CGN's 210105001, or 89970221 whose
    leading zero fell off)."""
    text = cell_text(value)
    if text is None:
        return None, "empty code"
    s = text.strip().lstrip("'").replace(" ", "")
    if re.fullmatch(r"\d+\.0+", s):
        s = s.split(".")[0]
    if not s.isdigit():
        return None, f"expected a DANE municipality code (5 digits, or an entity code ending in one), found {text!r}"
    if len(s) <= 5:
        code = s.zfill(5)
    elif len(s) in (8, 9):
        code = s[-5:]
    else:
        return None, (f"expected a DANE municipality code (5 digits) or a CGN entity code (9 digits), "
                      f"found {len(s)} digits")
    if code[:2] not in DEPARTMENTS:
        return None, f"code {code} does not resolve to DIVIPOLA: {code[:2]} is no DANE department"
    if code.endswith("000"):
        return None, f"code {code} is a department, not a municipality"
    return code, None


# --- scale ----------------------------------------------------------------------------------

def scale_problem(low: float, high: float) -> str:
    return f"outside the published range {low:g}–{high:g}"


def check_scale(where: str, header: str, bounds: tuple[float, float], outside: list[tuple[int, str]],
                read: int, tolerance: float = 0.01, over: float = 0.0) -> None:
    """Refuse a file whose column is out of its published range in more than ``tolerance`` of
    its values (a scale error, such as 0–100 read as 0–10,000), before anything is loaded.
    Isolated values out of range are the caller's to quarantine. Nothing is ever rescaled.
    ``over``: how far above the top the publisher's own values may go (the caller leaves such
    values out of ``outside``; a file 100 times off still has them 100 times off)."""
    if not outside or len(outside) <= max(1, tolerance * read):
        return
    low, high = bounds
    values = sorted(float(v) for _, v in outside)
    row, example = outside[0]
    cause = "a unit or scale different from the published one"
    for factor in (100, 1000, 10):
        if all(low <= v / factor <= high + over for v in values):
            cause = (f"every such value is {factor} times a value in range: most likely a decimal "
                     f"separator lost when the file was re-saved (e.g. {example} for "
                     f"{float(example) / factor:g})")
            break
    raise SourceFormatError(
        f"{where}, column {header!r}: {len(outside)} of {read} values are {scale_problem(low, high)} "
        f"(from {values[0]:g} to {values[-1]:g}; first at row {row}: {example}); {cause}. "
        "Nothing was loaded and nothing is rescaled: correct the file (or get the publisher's "
        "original) and extract it again."
    )
