"""``SourceSpec``: what the pipeline needs to know about one source, declared once.

Each source module ends with ``SPEC = SourceSpec(...)``; ``sinfonia.ingest.sources.CATALOGUE`` lists
them in extract order (imported on first use; the DAG files read ``LISTING``, its outline).
Everything else is derived from that list: the extract order, the extract DAG's tasks and their
dependencies, the ``raw.*`` Assets, the raw tables created on bootstrap, the command line's list of
sources and the tests' parametrisation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sinfonia.ingest.landing import LandedFile
    from sinfonia.ingest.loading import Batch


class Periods(Enum):
    """How a source's files map to the periods loaded into its raw table (one transaction each)."""

    # One period for all the files: the parser's default (DIVIPOLA "current", PDET "2017"), or
    # the one named by `sinfonia extract --year`. Any changed file reloads them all.
    GIVEN = "given"
    # The files say their periods (a year column, an edition in the name). Any changed file reloads
    # them all, since one period may be spread over several files.
    IN_FILES = "in_files"
    # Each file holds its own periods (an export date, a yearly workbook): files already behind a
    # current load are not read again.
    PER_FILE = "per_file"


@dataclass(frozen=True)
class SourceSpec:
    """One source: where its files are, what landing does to them, how they parse, where they load."""

    name: str  # the source in meta.* and the name of its table
    folder: str  # its sub-folder of a sources folder
    patterns: tuple[str, ...]  # glob patterns of its files in that folder
    columns: tuple[str, ...]  # the raw table's columns (text), in the parser's order
    parse: Callable[..., list[Batch]]  # landed files → batches
    periods: Periods = Periods.IN_FILES
    # The parser takes `sinfonia extract --year` as its last resort for a file's period (after the
    # file name and the file's own title or metadata cells; a conflict is the parser's error).
    year_fallback: bool = False
    schema: str = "raw"  # "restricted" for person-level data, never granted to analysts
    # Tables the parser fills besides its own (name → columns), in the same schema.
    extra_tables: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    # What landing must do before anything is written: path → (stored name, bytes). None keeps
    # the file unchanged (the rule); the equipos export is pseudonymised (the one exception).
    prepare_for_landing: Callable[[Path, bytes], tuple[str, bytes]] | None = None
    # What a load must say about the files landed before (every landed file name of the source,
    # the files of this load) → notices (a roster pseudonymised under another key than before).
    landing_notices: Callable[[list[str], list[LandedFile]], list[str]] | None = None
    # Rows that give only department and municipality names get their code from raw.divipola.
    resolves_divipola_names: bool = False
    # The raw column holding a DIVIPOLA municipality code (in every table of the source that has
    # it; rows whose ``entity_level`` is not ``municipio`` aside): a code not in raw.divipola (any
    # edition) is quarantined at extract with the reason. Needs after=('divipola',).
    divipola_code: str | None = None
    after: tuple[str, ...] = ()  # sources that must be loaded first
    # A new file of this source schedules the weekly monitoring DAG.
    drives_monitoring: bool = False
    note: str = ""  # one line shown with the extract task

    def __post_init__(self) -> None:
        # Delimited text published as .txt is read wherever CSV is (delimiter and decimal comma sniffed).
        text = tuple(p[: -len(".csv")] + ".txt" for p in self.patterns if p.endswith(".csv"))
        object.__setattr__(self, "patterns", self.patterns + tuple(t for t in text if t not in self.patterns))
        if self.resolves_divipola_names and "divipola" not in self.after:
            raise ValueError(f"source {self.name}: resolving DIVIPOLA names needs after=('divipola',)")
        if self.divipola_code and "divipola" not in self.after:
            raise ValueError(f"source {self.name}: checking codes against DIVIPOLA needs after=('divipola',)")

    @property
    def tables(self) -> dict[str, tuple[str, ...]]:
        """Every table this source loads (name → columns), its own first."""
        return {self.name: self.columns, **self.extra_tables}

    @property
    def task_id(self) -> str:
        return f"extract_{self.name}"

    def read(self, files: list[LandedFile], period: str | None = None,
             names: dict[tuple[str, str], str] | None = None) -> list[Batch]:
        """Parse landed files: ``period`` reaches parsers of ``Periods.GIVEN`` sources and those
        that take it as a fallback, ``names`` (DIVIPOLA's name → code index) those that resolve names."""
        kwargs: dict = {}
        if period and (self.periods is Periods.GIVEN or self.year_fallback):
            kwargs["period"] = period
        if self.resolves_divipola_names:
            kwargs["names"] = names
        return self.parse(files, **kwargs)
