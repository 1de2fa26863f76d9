"""ESAP ``equipos`` export: team members per year, person level and SENSITIVE (Ley 1581 de 2012).

Headers (contract v1): Vigencia, Dirección Territorial, Equipo, Documento, Nombre, Rol
(profesional/estudiante), Grupo Poblacional (afrodescendiente/raizal/palenquero, indígena,
LGBTIQ+, migrante, víctima del conflicto, persona con discapacidad, ninguno; several allowed,
separated by ``;``, ``,`` or ``|``). CSV or XLSX, one file per year (``equipos_2024.csv``) or one
file for several years.

Two steps, both here:

- ``prepare_for_landing`` runs BEFORE the landing zone writes anything: it keeps only the contract
  columns, replaces Documento by its keyed hash (``sinfonia.ingest.pii``), drops Nombre (and any other
  column), and returns a UTF-8 CSV (``<name>.clave-<key mark>.seudonimizado.csv``) with the original
  row numbers in ``Fila Origen``. That pseudonymised copy is all the landing zone keeps. The key's
  mark (``pii.key_mark``) tells a roster landed under a changed key: its load says so (``key_change``).
- ``parse`` reads only such pseudonymised files; it checks each row and returns one batch per
  Vigencia for the table ``restricted.esap_equipos`` (never ``raw``).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from sinfonia.ingest import pii
from sinfonia.ingest.landing import LandedFile
from sinfonia.ingest.loading import Batch
from sinfonia.ingest.sources.contract import Field, Kind, RowContract
from sinfonia.ingest.sources.spec import SourceSpec
from sinfonia.ingest.tables import (
    Column,
    SourceFormatError,
    cell_text,
    normalise,
    number_text,
    read_table,
)

SOURCE = "esap_equipos"
SCHEMA = "restricted"
FOLDER = "esap"
PATTERNS = ("equipos*.csv", "equipos*.xlsx")
COLUMNS = ("goal_year", "directorate", "team", "person_key", "role", "population_groups")
PSEUDONYM_HEADER = "Documento (HMAC-SHA256)"
LANDED_SUFFIX = ".seudonimizado.csv"

ROLES = {"profesional": "profesional", "estudiante": "estudiante"}  # published → loaded
# Canonical group codes (published column names use them) and the texts that name each one.
GROUPS = {
    "afro": ("afrodescendiente raizal palenquero", "afrodescendiente", "afrocolombiano", "afro",
             "negro", "raizal", "palenquero", "narp"),
    "indigenous": ("indigena",),
    "lgbtiq": ("lgbtiq+", "lgbtiq", "lgbti", "lgbt", "lgbtiq +", "lgbtiqa+"),
    "migrant": ("migrante",),
    "conflict_victim": ("victima del conflicto", "victima del conflicto armado", "victima"),
    "disability": ("persona con discapacidad", "discapacidad"),
}
_GROUP_BY_TEXT = {alias: code for code, aliases in GROUPS.items() for alias in aliases}
NONE_TEXTS = ("ninguno", "ninguna", "no aplica", "ninguno de los anteriores")

_CONTRACT = [
    Column("goal_year", ("vigencia",)),
    Column("directorate", (normalise("Dirección Territorial"),)),
    Column("team", ("equipo",)),
    Column("role", ("rol",)),
    Column("population_groups", (normalise("Grupo Poblacional"), normalise("Grupos Poblacionales"))),
]
ORIGINAL = [*_CONTRACT[:3], Column("document", ("documento", normalise("Número de Documento"))),
            Column("name", ("nombre", normalise("Nombre Completo")), required=False), *_CONTRACT[3:]]
LANDED = [Column("source_row", (normalise("Fila Origen"),)), *_CONTRACT[:3],
          Column("person_key", (normalise(PSEUDONYM_HEADER),)), *_CONTRACT[3:]]
LANDED_HEADER = ["Fila Origen", "Vigencia", "Dirección Territorial", "Equipo", PSEUDONYM_HEADER,
                 "Rol", "Grupo Poblacional"]


def prepare_for_landing(path: Path, data: bytes | None = None) -> tuple[str, bytes]:
    """(stored file name, pseudonymised CSV bytes): no document number, no name, ever stored.
    ``data``: the export's bytes as landing read and checked them (the path is not read again).
    The stored name carries the key's mark (``pii.key_mark``): a roster landed under another key
    is told apart (``key_change``)."""
    secret = pii.key()  # fails first, before the file is even read, when there is no key
    table = read_table(Path(path), ORIGINAL, data=data)
    out = io.StringIO()
    w = csv.writer(out, delimiter=";")
    w.writerow(LANDED_HEADER)
    for row_number, rec in table.records():
        w.writerow([row_number, cell_text(rec["goal_year"]), cell_text(rec["directorate"]),
                    cell_text(rec["team"]), pii.pseudonym(cell_text(rec["document"]), secret) or "",
                    cell_text(rec["role"]), cell_text(rec["population_groups"])])
    return f"{Path(path).stem}.clave-{pii.key_mark(secret)}{LANDED_SUFFIX}", out.getvalue().encode("utf-8")


_KEY_MARK = re.compile(r"\.clave-([0-9a-f]{8})" + re.escape(LANDED_SUFFIX) + "$")


def key_change(landed_before: list[str], landed: list[LandedFile]) -> list[str]:
    """The notice of a load whose rosters were pseudonymised under another key than earlier ones
    (``landed_before``: the names of every roster landed so far): the same export lands and loads
    again, and its people get pseudonyms that follow none of the earlier ones."""
    marks = {m.group(1) for f in landed if (m := _KEY_MARK.search(f.file_name))}
    earlier = sorted({name for name in landed_before if (m := _KEY_MARK.search(name)) and m.group(1) not in marks})
    if not marks or not earlier:
        return []
    return [f"{pii.KEY_ENV} is not the key that pseudonymised earlier rosters ({', '.join(earlier[:3])}"
            + (f" and {len(earlier) - 3} more" if len(earlier) > 3 else "") + "): this roster was landed and "
            "loaded again under the new key, and its person_key values follow no one across the rosters of "
            f"the earlier key. If {pii.KEY_ENV} changed by mistake, restore it and extract again"]


def population_groups(value: object) -> str:
    """Canonical ';'-joined group codes ('' for ninguno); ValueError naming what was expected."""
    text = cell_text(value)
    if text is None:
        raise ValueError("empty; write 'ninguno' when the person belongs to no group")
    codes: list[str] = []
    nones = 0
    for part in re.split(r"[;,|]", text):
        token = normalise(part)
        if not token:
            continue
        if token in NONE_TEXTS:
            nones += 1
        elif token in _GROUP_BY_TEXT:
            if _GROUP_BY_TEXT[token] not in codes:
                codes.append(_GROUP_BY_TEXT[token])
        else:
            raise ValueError(  # the text itself is not repeated: it may reveal a group
                "unknown group (value withheld: sensitive); expected afrodescendiente/raizal/palenquero, "
                "indígena, LGBTIQ+, migrante, víctima del conflicto, persona con discapacidad or ninguno"
            )
    if nones and codes:
        raise ValueError("'ninguno' cannot be combined with a population group")
    if not nones and not codes:
        raise ValueError("no group given; write 'ninguno' when the person belongs to no group")
    return ";".join(sorted(codes))


def _person_key(value: object) -> tuple[str | None, str | None]:
    if re.fullmatch(r"[0-9a-f]{64}", cell_text(value) or ""):
        return cell_text(value), None
    return None, "document number missing (the value itself is never stored)"


# The row contract: one person once per team and year; the pseudonym and the groups are never
# written to the quarantine (meta.quarantine is not restricted), nor is the key of a duplicate.
FIELDS = (
    Field("goal_year", Kind.YEAR, key=True, required=True),
    Field("directorate", key=True, required=True, fold=True),
    Field("team", key=True, required=True, fold=True),
    Field("person_key", key=True, required=True, sensitive=True, convert=_person_key, header="Documento"),
    Field("role", Kind.ENUM, required=True, values=ROLES),
    Field("population_groups", required=True, sensitive=True, convert=lambda v: (population_groups(v), None)),
)


def parse(files: list[LandedFile]) -> list[Batch]:
    batches: dict[str, Batch] = {}
    contract = RowContract(FIELDS)
    for f in files:
        if not f.file_name.endswith(LANDED_SUFFIX):
            raise SourceFormatError(
                f"{f.file_name}: the equipos export holds personal data and is parsed only after "
                "landing pseudonymised it (document numbers hashed, names dropped); land it with "
                "sinfonia extract esap_equipos"
            )
        table = read_table(f.path, LANDED)
        for _, rec in table.records():
            row_number = int(number_text(rec["source_row"]) or 0)
            row, problem = contract.check(table, row_number, rec)
            year = row.get("goal_year") or "unknown"
            batch = batches.setdefault(year, Batch(SOURCE, year, COLUMNS, published_on=f.published_on,
                                                   schema=SCHEMA))
            if f.sha256 not in batch.files:
                batch.files.append(f.sha256)
            if problem:
                batch.reject(f.file_name, row_number, *problem,
                             {k: cell_text(rec[k]) for k in ("goal_year", "directorate", "team")})
                continue
            contract.keep(table, row_number, row)
            batch.rows.append((f.file_name, row_number, *(row[c] for c in COLUMNS)))
    return list(batches.values())


SPEC = SourceSpec(SOURCE, FOLDER, PATTERNS, COLUMNS, parse, schema=SCHEMA,
                  prepare_for_landing=prepare_for_landing, landing_notices=key_change, drives_monitoring=True,
                  note="Person level: pseudonymised on landing, loaded into `restricted`, never into `raw`.")
