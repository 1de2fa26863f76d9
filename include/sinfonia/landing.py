"""The landing zone: every fetched or dropped file kept unchanged, addressed by its SHA-256.

``land()`` copies a file to ``<state>/landing/<source>/<sha256>/<original name>`` and records it
in ``meta.landed_file``. Landing the same bytes again is a no-op (the row and the copy stay).

The one deliberate exception to "unchanged": a source with personal data (the ESAP ``equipos``
export, Ley 1581 de 2012) passes a ``prepare`` function that pseudonymises the file in memory
(document numbers become keyed hashes, names are dropped) BEFORE anything is written. The landing
zone then keeps only that pseudonymised copy, addressed by the SHA-256 of its own bytes; the
original bytes are never stored by Sinfonía.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from sinfonia import config

if TYPE_CHECKING:  # psycopg is imported when a file lands, not when a DAG file imports the catalogue
    import psycopg


@dataclass(frozen=True)
class LandedFile:
    sha256: str
    source: str
    path: Path  # the immutable copy in the landing zone
    file_name: str
    origin: str
    size_bytes: int
    published_on: date | None


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def land(
    conn: psycopg.Connection,
    source: str,
    path: Path,
    origin: str | None = None,
    period: str | None = None,
    published_on: date | None = None,
    prepare: Callable[[Path], tuple[str, bytes]] | None = None,
    checked: bool = False,
) -> LandedFile:
    """Land ``path``; with ``prepare`` (path → (stored name, bytes)), land what it returns instead.

    The file first passes ``sinfonia.intake.check`` (no link, within limits, no personal data
    unless ``prepare`` pseudonymises it), unless the caller ``checked`` it already."""
    path = Path(path)
    if not checked:
        from sinfonia import intake  # (it reads tables with sources._tables, whose parsers import us)

        intake.check(path, personal_data_expected=prepare is not None)
    content = None
    name = path.name
    if prepare is not None:
        name, content = prepare(path)
        digest = hashlib.sha256(content).hexdigest()
    else:
        digest = sha256_of(path)
    target = config.landing_dir() / source / digest / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        if content is None:
            shutil.copyfile(path, tmp)
        else:
            tmp.write_bytes(content)
        tmp.replace(target)
        target.chmod(0o444)
    size = target.stat().st_size
    conn.execute(
        """
        insert into meta.landed_file
            (sha256, source, period, file_name, origin, size_bytes, published_on, stored_path)
        values (%s, %s, %s, %s, %s, %s, %s, %s)
        on conflict (sha256) do nothing
        """,
        (digest, source, period, name, origin or path.name, size, published_on,
         str(target.relative_to(config.landing_dir()))),
    )
    return LandedFile(digest, source, target, name, origin or path.name, size, published_on)
