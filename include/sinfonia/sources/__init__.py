"""One module per source: each knows its files, its layout and its raw columns.

Every module exposes ``SOURCE`` (the raw table), ``COLUMNS`` (raw columns, text),
``FOLDER`` and ``PATTERNS`` (where its files sit in a sources folder) and
``parse(files) -> list[Batch]`` (files already landed).
"""

from sinfonia.sources import (
    cgn_categories, divipola, esap_asistencias, esap_equipos, esap_metas, idf, imrc, ipm, mdm, pdet,
)

REGISTRY = {m.SOURCE: m for m in (divipola, pdet, idf, esap_asistencias, esap_metas, esap_equipos)}
REGISTRY.update({m.SOURCE: m for m in (mdm, ipm, imrc, cgn_categories)})

__all__ = ["REGISTRY"]
