"""The source catalogue: one module per source, each ending with its ``SPEC`` (``spec.SourceSpec``).

``CATALOGUE`` is the one list of sources, in extract order (a source comes after those it
names in ``after``: DIVIPOLA first, so that exports giving only names can be resolved against
it). The extract DAG's tasks, the ``raw.*`` Assets, the raw tables created on bootstrap, the
command line's choices and the tests are derived from it.
"""

from sinfonia.ingest.sources import (
    cgn_categories,
    divipola,
    esap_asistencias,
    esap_equipos,
    esap_metas,
    idf,
    imrc,
    ipm,
    mdm,
    pdet,
)
from sinfonia.ingest.sources.spec import Periods, SourceSpec

CATALOGUE: tuple[SourceSpec, ...] = tuple(m.SPEC for m in (
    divipola, pdet, idf, esap_asistencias, esap_metas, esap_equipos, mdm, ipm, imrc, cgn_categories,
))
SOURCES: dict[str, SourceSpec] = {s.name: s for s in CATALOGUE}


def _check(catalogue: tuple[SourceSpec, ...]) -> None:
    seen: set[str] = set()
    for s in catalogue:
        if s.name in seen:
            raise ValueError(f"source {s.name} is declared twice")
        late = [a for a in s.after if a not in seen]
        if late:
            raise ValueError(f"source {s.name} must come after {', '.join(late)} in the catalogue")
        seen.add(s.name)


_check(CATALOGUE)


def get(name: str) -> SourceSpec:
    """The spec of ``name``; a ``KeyError`` naming the known sources otherwise."""
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(SOURCES)}") from None


__all__ = ["CATALOGUE", "SOURCES", "Periods", "SourceSpec", "get"]
