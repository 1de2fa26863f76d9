"""The landing zone: every fetched or dropped file kept unchanged, addressed by its SHA-256.

``land()`` copies a file to ``<store>/landing/<source>/<sha256>/<original name>`` and records it
in ``meta.landed_file``. Landing the same bytes again is a no-op (the row and the copy stay).

The store is ``SINFONIA_STORE_URL`` (``sinfonia.config``), read and written through Airflow's
``ObjectStoragePath``: by default the local folder ``<state>/landing`` (each copy read-only), in
production an S3-compatible bucket, so that a file landed by one Celery worker is parsed by another
that shares no disk with it. Parsers read local files: a file landed on an object store is read
from this machine's copy (``local_copy``: fetched once, checked against its SHA-256).

The one deliberate exception to "unchanged": a source with personal data (the ESAP ``equipos``
export, Ley 1581 de 2012) passes a ``prepare`` function that pseudonymises the file in memory
(document numbers become keyed hashes, names are dropped) BEFORE anything is written. The landing
zone then keeps only that pseudonymised copy, addressed by the SHA-256 of its own bytes; the
original bytes are never stored by Sinfonía.
"""

from __future__ import annotations

import hashlib
import os
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

    def record(self) -> dict:
        """What another task (on another worker) needs to read the file again: ``from_record``."""
        return {"sha256": self.sha256, "source": self.source, "file_name": self.file_name, "origin": self.origin,
                "size_bytes": self.size_bytes,
                "published_on": self.published_on.isoformat() if self.published_on else None}

    @classmethod
    def from_record(cls, record: dict) -> LandedFile:
        """The landed file of ``record`` with ``path`` a local copy of its bytes (fetched from the
        store when this machine has none)."""
        published = record.get("published_on")
        path = local_copy(record["source"], record["sha256"], record["file_name"])
        return cls(record["sha256"], record["source"], path, record["file_name"], record["origin"],
                   int(record["size_bytes"]), date.fromisoformat(published) if published else None)


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
    prepare: Callable[[Path, bytes], tuple[str, bytes]] | None = None,
    root: Path | None = None,
    checked: bytes | None = None,
) -> LandedFile:
    """Land ``path``; with ``prepare`` ((path, its bytes) → (stored name, bytes)), land what it returns instead.

    The file's bytes are read once, checked by ``sinfonia.ingest.intake`` (no link, within limits,
    no personal data unless ``prepare`` pseudonymises it; ``root``: the sources folder it must stay
    in) and exactly those bytes landed, whatever happens to the file meanwhile. ``checked``: the
    bytes ``intake.read_checked`` returned for ``path`` with the same ``root`` and ``prepare``
    (``extract.land_files`` checks every file of a source before it lands any), landed as they are."""
    path = Path(path)
    from sinfonia.ingest import intake  # (here, not on top: it imports psycopg, the catalogue need not)

    data = checked
    if data is None:
        data = intake.read_checked(path, root, personal_data_expected=prepare is not None)
    content = None
    name = path.name
    if prepare is not None:
        name, content = prepare(path, data)  # the checked bytes: the path is not read again
    else:
        content = data
    digest = hashlib.sha256(content).hexdigest()
    stored = f"{source}/{digest}/{name}"
    if config.store().scheme == "file":
        target = Path(_store_file(path, content, config.landing_root() / stored, read_only=True))
    else:  # this machine's copy first (the parser reads it), then the object from it
        target = local_copy(source, digest, name, path if content is None else None, content)
        _store_file(target, None, config.landing_root() / stored)
    size = target.stat().st_size
    conn.execute(
        """
        insert into meta.landed_file
            (sha256, source, period, file_name, origin, size_bytes, published_on, stored_path)
        values (%s, %s, %s, %s, %s, %s, %s, %s)
        on conflict (sha256) do nothing
        """,
        (digest, source, period, name, origin or path.name, size, published_on,
         stored),
    )
    return LandedFile(digest, source, target, name, origin or path.name, size, published_on)


def _store_file(path: Path | None, content: bytes | None, target, read_only: bool = False) -> str:
    """Write ``content`` (or ``path``'s bytes) to the ``ObjectStoragePath`` ``target`` unless it
    exists (same address, same bytes); returns its path within its filesystem. Written under a
    temporary name and renamed, so no reader sees half a file (an object store's PUT is atomic)."""
    if not target.exists():
        local = target.protocol in ("file", "local", "")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / (target.name + ".part") if local else target
        # Through the path's fsspec filesystem: ObjectStoragePath.open() would start Airflow's hook
        # lineage collector (every plugin and provider loaded: over a second per task process).
        if content is None:
            target.fs.put_file(str(path), tmp.path)
        else:
            target.fs.pipe_file(tmp.path, content)
        if local:
            tmp.rename(target)
            if read_only:
                os.chmod(target.path, 0o444)
    return target.path


def local_copy(source: str, digest: str, name: str, path: Path | None = None, content: bytes | None = None) -> Path:
    """A local file holding the landed bytes of ``<source>/<digest>/<name>``: the landing zone's own
    copy on a ``file://`` store; else this machine's cached copy, written from ``path`` or
    ``content`` when given (the machine that lands the file), otherwise fetched from the store and
    checked against ``digest``."""
    if config.store().scheme == "file":
        return config.landing_dir() / source / digest / name
    cached = config.landing_cache_dir() / source / digest / name
    if cached.exists():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f"{name}.{os.getpid()}.part")
    if content is not None:
        tmp.write_bytes(content)
    elif path is not None:
        shutil.copyfile(path, tmp)
    else:
        remote = config.landing_root() / source / digest / name
        if not remote.exists():
            raise FileNotFoundError(f"landed file {source}/{digest}/{name} is not in the landing zone "
                                    f"({config.store().url}/landing)")
        remote.fs.get_file(remote.path, str(tmp))
        got = sha256_of(tmp)
        if got != digest:
            tmp.unlink()
            raise ValueError(f"landed file {source}/{digest}/{name} on {config.store().url}: its bytes have "
                             f"SHA-256 {got}, expected {digest} (the object was changed after landing)")
    tmp.replace(cached)
    return cached
