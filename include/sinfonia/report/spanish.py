"""Names and numbers as a Colombian planning office writes them.

- ``place_name``: DIVIPOLA publishes names in capitals and the warehouse title-cases them word by
  word (``initcap``: "Valle Del Cauca"); Spanish keeps the particles in lower case after the first
  word ("Valle del Cauca", "Archipiélago de San Andrés, Providencia y Santa Catalina",
  "San Pedro de los Milagros") and abbreviations in capitals ("Bogotá, D.C.").
- ``number`` and ``percent``: decimal comma, thousands point (``1.234,5``; ``66,7 %``), a dash
  for a missing value; ``axis_format`` puts the same on a matplotlib axis.
"""

from __future__ import annotations

import math
import re

MISSING = "—"
PARTICLES = frozenset({"de", "del", "la", "las", "los", "el", "y", "e", "en"})
_WORD = re.compile(r"[^\W\d_]+(?:\.[^\W\d_]+)*\.?", re.UNICODE)  # a word, or an abbreviation like D.C.


def place_name(name) -> str | None:
    """A DIVIPOLA name (any case) in Spanish title case; None stays None."""
    if name is None:
        return None
    text = str(name)
    out, last, first = [], 0, True
    for match in _WORD.finditer(text):
        word = match.group(0)
        out.append(text[last:match.start()])
        # a new part of the name starts after a separator such as " - " or "(" (not after ", ")
        starts_part = first or text[last:match.start()].strip() in {"-", "(", "–"}
        if "." in word.rstrip("."):  # an abbreviation: D.C., D.T. y C.
            out.append(word.upper())
        elif word.lower() in PARTICLES and not starts_part:
            out.append(word.lower())
        else:
            out.append(word[:1].upper() + word[1:].lower())
        last, first = match.end(), False
    out.append(text[last:])
    return "".join(out)


def _plain(value):
    if hasattr(value, "item"):  # numpy and pandas scalars
        value = value.item()
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def number(value, decimals: int = 0) -> str:
    """``1234.5`` → ``1.234,5`` (with ``decimals=1``); a dash when missing."""
    value = _plain(value)
    if value is None:
        return MISSING
    text = f"{value:,.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]  # no "-0,0"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def percent(share, decimals: int = 1) -> str:
    """A share in 0–1 as a percentage: ``0.6667`` → ``66,7 %`` (non-breaking space before %)."""
    share = _plain(share)
    return MISSING if share is None else f"{number(share * 100, decimals)}\u00a0%"


def axis_format(axis, decimals: int | None = None, suffix: str = "") -> None:
    """Colombian tick labels on a matplotlib axis (decimals as needed when not given)."""
    from matplotlib.ticker import FuncFormatter

    def label(value, _pos):
        places = decimals if decimals is not None else (0 if float(value).is_integer() else 1)
        return number(value, places) + suffix

    axis.set_major_formatter(FuncFormatter(label))


def generated_at(now=None) -> str:
    """When a page was written, as its readers write dates: ``07/12/2026 a las 20:48 (hora de
    Bogotá)`` (dd/mm/yyyy like every other date of the report, in Colombia's time, not UTC)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    local = (now or datetime.now(UTC)).astimezone(ZoneInfo("America/Bogota"))
    return f"{local:%d/%m/%Y} a las {local:%H:%M} (hora de Bogotá)"
