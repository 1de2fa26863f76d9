"""The source catalogue: one module per source, each ending with its ``SPEC`` (``spec.SourceSpec``).

``CATALOGUE`` is the one list of sources, in extract order (a source comes after those it
names in ``after``: DIVIPOLA first, so that exports giving only names can be resolved against
it). The extract DAG's tasks, the ``raw.*`` Assets, the raw tables created on bootstrap, the
command line's choices and the tests are derived from it.

Two views of the one list:

- ``LISTING``: what a DAG file needs to lay out its tasks and Assets (each source's name, the
  sources it comes after, whether it drives the weekly monitoring DAG, its note), declared here
  so that parsing a DAG file imports no parser module (nor their contract, tables, readers);
- ``CATALOGUE`` / ``SOURCES`` / ``get``: the full specs (parser, columns, folders ...), each
  module's ``SPEC``, imported on first use (when a task or a command runs) and checked against
  ``LISTING`` then: a source declared differently in its module and here fails at once.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sinfonia.ingest.sources.spec import Periods, SourceSpec


@dataclass(frozen=True, slots=True)
class Listed:
    """One source as the DAG files see it: its name and place in the extract order, no parser."""

    name: str
    after: tuple[str, ...] = ()
    drives_monitoring: bool = False
    note: str = field(default="", repr=False)

    @property
    def task_id(self) -> str:
        return f"extract_{self.name}"  # as SourceSpec.task_id


# In extract order; each name is its module's (sinfonia.ingest.sources.<name>) and its SPEC's.
LISTING: tuple[Listed, ...] = (
    Listed("divipola"),
    Listed("pdet", after=("divipola",)),
    Listed("idf", after=("divipola",)),
    Listed("esap_asistencias", after=("divipola",), drives_monitoring=True,
           note="After DIVIPOLA: rows that give only names are resolved against it."),
    Listed("esap_metas", drives_monitoring=True),
    Listed("esap_equipos", drives_monitoring=True,
           note="Person level: pseudonymised on landing, loaded into `restricted`, never into `raw`."),
    Listed("mdm", after=("divipola",)),
    Listed("ipm", after=("divipola",), note="Also loads raw.ipm_privations (the annex's 15 privations sheet)."),
    Listed("imrc", after=("divipola",)),
    Listed("cgn_categories", after=("divipola",)),
)
NAMES: tuple[str, ...] = tuple(s.name for s in LISTING)


def _check(catalogue) -> None:
    seen: set[str] = set()
    for s in catalogue:
        if s.name in seen:
            raise ValueError(f"source {s.name} is declared twice")
        late = [a for a in s.after if a not in seen]
        if late:
            raise ValueError(f"source {s.name} must come after {', '.join(late)} in the catalogue")
        seen.add(s.name)


_check(LISTING)


def _agree(listed: Listed, spec: SourceSpec) -> None:
    """A module's SPEC must say what LISTING says of it (the DAGs are laid out from LISTING)."""
    for attr in Listed.__slots__:
        if getattr(listed, attr) != getattr(spec, attr):
            raise ValueError(f"source {listed.name}: {attr} is {getattr(spec, attr)!r} in its module's SPEC but "
                             f"{getattr(listed, attr)!r} in sinfonia.ingest.sources.LISTING; make them agree")


def _load() -> tuple[SourceSpec, ...]:
    """Every module's SPEC, in LISTING's order (imports every parser: only when a spec is needed)."""
    modules = {name: importlib.import_module(f"{__name__}.{name}") for name in NAMES}
    wrong = {name: m.SPEC.name for name, m in modules.items() if m.SPEC.name != name}
    if wrong:
        raise ValueError(f"each source module's SPEC must carry the module's name: {wrong} (module: SPEC name)")
    catalogue = tuple(modules[s.name].SPEC for s in LISTING)
    for listed, spec in zip(LISTING, catalogue, strict=True):
        _agree(listed, spec)
    _check(catalogue)
    return catalogue


def __getattr__(name: str):
    # PEP 562: CATALOGUE and SOURCES are built on first use, then kept as module attributes.
    if name in ("CATALOGUE", "SOURCES"):
        catalogue = _load()
        globals().update(CATALOGUE=catalogue, SOURCES={s.name: s for s in catalogue})
        return globals()[name]
    if name in ("Periods", "SourceSpec"):
        from sinfonia.ingest.sources import spec

        return getattr(spec, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    CATALOGUE: tuple[SourceSpec, ...]
    SOURCES: dict[str, SourceSpec]


def get(name: str) -> SourceSpec:
    """The spec of ``name``; a ``KeyError`` naming the known sources otherwise."""
    sources = globals().get("SOURCES") or __getattr__("SOURCES")
    try:
        return sources[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(sources)}") from None


__all__ = ["CATALOGUE", "LISTING", "NAMES", "SOURCES", "Listed", "Periods", "SourceSpec", "get"]
