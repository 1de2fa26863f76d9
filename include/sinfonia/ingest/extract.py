"""Extraction of one source from a folder of files: land, parse, load.

A sources folder holds one sub-folder per source (``divipola/``, ``pdet/``, ``idf/``,
``esap/``...), the layout of ``sinfonia sample`` and of ``../shared/reference``. An optional
``MANIFEST.csv`` at its root (columns ``file,source,period,published_on,origin``) says when each
file was published and where it came from; without it, each source's default applies.
"""

from __future__ import annotations

import csv
import logging
from datetime import date
from pathlib import Path

import psycopg

from sinfonia import db
from sinfonia.errors import UserError
from sinfonia.ingest import intake, sources
from sinfonia.ingest.landing import LandedFile, land
from sinfonia.ingest.loading import Batch, LoadResult, load_batch
from sinfonia.ingest.sources import Periods
from sinfonia.ingest.tables import normalise

log = logging.getLogger(__name__)


def discover(sources_dir: Path, source: str) -> list[Path]:
    """The source's files in a sources folder (its sub-folder) or in the source's own folder
    (``--from reference/cgn``: a folder holding no source's sub-folder is taken as one)."""
    spec = sources.get(source)
    folder = Path(sources_dir) / spec.folder
    if not any((Path(sources_dir) / s.folder).is_dir() for s in sources.CATALOGUE):
        folder = Path(sources_dir)
    found: set[Path] = set()
    for pattern in spec.patterns:
        found.update(p for p in folder.glob(pattern)
                     if p.is_file() and not p.name.startswith("~$") and p.name != "MANIFEST.csv")
    return sorted(found)


class NoSourceFiles(UserError, FileNotFoundError):
    """A folder without the files a command expects; says which files and where."""


def sources_folder(path: Path) -> Path:
    """A sources folder holding at least one recognised file, else an error saying what is expected."""
    path = Path(path)
    if not path.is_dir():
        raise NoSourceFiles(f"sources folder {path} does not exist")
    if not any((path / s.folder).is_dir() and discover(path, s.name) for s in sources.CATALOGUE):
        expected = "; ".join(f"{s.folder}/{'|'.join(s.patterns)}" for s in sources.CATALOGUE)
        raise NoSourceFiles(f"no recognised source file in {path}: expected one sub-folder per source "
                            f"({expected}); `sinfonia sample --out DIR` writes an example")
    return path


def source_files(path: Path, source: str) -> tuple[list[Path], Path | None]:
    """The files of ``source`` at ``path`` and the sources folder they belong to: a file; a sources
    folder (files in its ``<source folder>/``); or that source folder itself."""
    path = Path(path)
    if not path.exists():
        raise NoSourceFiles(f"{path} does not exist")
    if not path.is_dir():
        return [path.resolve()], None
    spec = sources.get(source)
    paths = [p.resolve() for p in discover(path, source)]
    if not paths:
        raise NoSourceFiles(f"no {source} files in {path}: expected {spec.folder}/{'|'.join(spec.patterns)} "
                            f"in a sources folder, or {'|'.join(spec.patterns)} in the folder given")
    if (path / spec.folder).is_dir():
        return paths, path.resolve()
    return paths, (path.parent if path.name == spec.folder else path).resolve()


def results(source: str, returned: dict) -> list[LoadResult]:
    """The load results of ``source``'s extract task, from what the DAG's tasks returned (none for
    an unknown source: the error that named it is the one to report, not a KeyError here)."""
    if source not in sources.SOURCES:
        return []
    return [LoadResult(**{**r, "notices": tuple(r.get("notices") or ())})
            for r in returned.get(sources.get(source).task_id) or []]


def read_manifest(sources_dir: Path) -> dict[str, dict]:
    path = Path(sources_dir) / "MANIFEST.csv"
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        value = (row.get("published_on") or "").strip()
        try:
            row["published_on"] = date.fromisoformat(value).isoformat() if value else ""
        except ValueError:
            raise ValueError(f"MANIFEST.csv: row {number} ({row.get('file')}), column published_on: {value!r} "
                             "is not a date; expected YYYY-MM-DD (an existing date)") from None
    return {row["file"]: row for row in rows}


def divipola_names(conn: psycopg.Connection) -> dict[tuple[str, str], str]:
    """(department, municipality) normalised names → code, only where unambiguous."""
    exists = conn.execute("select to_regclass('raw.divipola')").fetchone()[0]
    if not exists:
        return {}
    index: dict[tuple[str, str], set[str]] = {}
    for dept, muni, code in conn.execute(
        "select department_name, municipality_name, municipality_code from raw.divipola"
    ):
        index.setdefault((normalise(dept), normalise(muni)), set()).add(code)
    return {k: next(iter(v)) for k, v in index.items() if len(v) == 1}


def divipola_codes(conn: psycopg.Connection) -> tuple[set[str], list[str]] | None:
    """Every municipality code of raw.divipola, in any edition (an entity gone from the latest one
    is still known: facts refer to it), with the editions; None when no DIVIPOLA is loaded."""
    if not conn.execute("select to_regclass('raw.divipola')").fetchone()[0]:
        return None
    codes = {c for (c,) in conn.execute("select distinct municipality_code from raw.divipola")}
    editions = [e for (e,) in conn.execute("select distinct _period from raw.divipola order by 1")]
    return (codes, editions) if codes else None


def quarantine_unresolved(batch: Batch, column: str, known: tuple[set[str], list[str]] | None) -> None:
    """Move the rows of ``batch`` whose ``column`` holds a code that is not in DIVIPOLA to its
    quarantine, naming file, row, column and code. Without DIVIPOLA the check is skipped with a
    notice (the raw gate still checks every code)."""
    if column not in batch.columns:
        return
    if known is None:
        batch.notices.append(f"DIVIPOLA is not loaded: the codes of {batch.source} {batch.period} were not "
                             "checked against it at extract (extract divipola first; the raw gate checks them)")
        log.warning("%s", batch.notices[-1])
        return
    codes, editions = known
    at = batch.columns.index(column) + 2  # rows are (file, row number, *values)
    level = batch.columns.index("entity_level") + 2 if "entity_level" in batch.columns else None
    kept = []
    for row in batch.rows:
        code = row[at]
        if code in codes or (level is not None and row[level] != "municipio"):
            kept.append(row)
            continue
        batch.reject(row[0], row[1], batch.header_of(row[0], column), code,
                     f"code {code} does not resolve to DIVIPOLA (in no edition of raw.divipola: "
                     f"{', '.join(editions)})", dict(zip(batch.columns, row[2:], strict=True)))
    if len(kept) < len(batch.rows):
        first = next(r for r in batch.rejected if r.reason.startswith(f"code {r.value} does not resolve"))
        batch.notices.append(
            f"{len(batch.rows) - len(kept)} row(s) quarantined: code not in DIVIPOLA (first: {first.file_name}, "
            f"row {first.row_number}, column {first.column!r}: {first.value})")
        log.warning("%s %s: %s", batch.source, batch.period, batch.notices[-1])
    batch.rows = kept


def already_loaded(conn: psycopg.Connection, source: str, period: str | None = None) -> set[str]:
    """SHA-256 of the files behind the current load of each period of ``source`` (of ``period``
    only, when given: the same bytes registered as another edition are not already loaded)."""
    return {sha for (files,) in conn.execute(
        "select files from meta.load_run where source = %s and status = 'loaded' "
        "and (%s::text is null or period = %s)", (source, period, period)
    ) for sha in files}


def extract(source: str, paths: list[Path], sources_dir: Path | None = None,
            dsn: str | None = None, origins: dict[Path, str] | None = None,
            period: str | None = None, force: bool = False) -> list[LoadResult]:
    """Land, parse and load the given files of one source; returns one result per period.

    ``origins`` gives each file's origin (a URL) when it was downloaded; ``period`` (``--year``)
    sets the period of sources whose period is given (``Periods.GIVEN``). ``land_files`` then
    ``load_landed``: the extract DAG runs them as two tasks, possibly on two workers.
    """
    landed = land_files(source, paths, sources_dir, dsn, origins, period)
    return load_landed(source, landed, dsn, period, force)


def land_files(source: str, paths: list[Path], sources_dir: Path | None = None, dsn: str | None = None,
               origins: dict[Path, str] | None = None, period: str | None = None) -> list[LandedFile]:
    """Check every file against the intake rules, then land each (``sinfonia.ingest.landing.land``)."""
    spec = sources.get(source)
    manifest = read_manifest(sources_dir) if sources_dir else {}
    prepare = spec.prepare_for_landing
    # every file is read once and passes the intake rules before any is landed; landing lands
    # exactly the bytes checked (a file replaced in between changes nothing that is landed)
    checked = {path: intake.read_checked(Path(path), sources_dir, personal_data_expected=prepare is not None)
               for path in paths}
    landed: list[LandedFile] = []
    with db.connect(dsn, autocommit=True) as conn:
        for path in paths:
            rel = str(Path(path).relative_to(sources_dir)) if sources_dir else Path(path).name
            entry = manifest.get(rel, {})
            published = date.fromisoformat(entry["published_on"]) if entry.get("published_on") else None
            origin = (origins or {}).get(path) or entry.get("origin") or rel
            landed.append(land(conn, source, Path(path), origin=origin,
                               period=period or entry.get("period") or None, published_on=published,
                               prepare=prepare, root=sources_dir, checked=checked[path]))
    return landed


def load_landed(source: str, landed: list[LandedFile], dsn: str | None = None, period: str | None = None,
                force: bool = False) -> list[LoadResult]:
    """Parse and load landed files of one source; returns one result per period.

    Files whose exact bytes are already behind a current load are not parsed again (the weekly
    run after one new export parses that export only). Sources whose files are independent
    periods (``Periods.PER_FILE``) skip file by file; the others reload all their files when any
    one changed. ``force`` reloads everything.
    """
    spec = sources.get(source)
    with db.connect(dsn, autocommit=True) as conn:
        if not force:
            loaded = already_loaded(conn, source, period if spec.periods is Periods.GIVEN else None)
            if spec.periods is Periods.PER_FILE:
                landed = [f for f in landed if f.sha256 not in loaded]
            elif all(f.sha256 in loaded for f in landed):
                landed = []
        if not landed:
            return []
        names = divipola_names(conn) if spec.resolves_divipola_names else None
        batches = spec.read(landed, period=period, names=names)
        if spec.landing_notices is not None:
            before = [r[0] for r in conn.execute("select file_name from meta.landed_file where source = %s",
                                                 (source,)).fetchall()]
            for notice in spec.landing_notices(before, landed):
                for batch in batches:
                    batch.notices.append(notice)
        if spec.divipola_code:
            known = divipola_codes(conn)
            for batch in batches:
                quarantine_unresolved(batch, spec.divipola_code, known)
        return [load_batch(conn, b) for b in batches]


def extract_folder(source: str, sources_dir: Path, dsn: str | None = None,
                   force: bool = False) -> list[LoadResult]:
    return extract(source, discover(sources_dir, source), sources_dir, dsn, force=force)
