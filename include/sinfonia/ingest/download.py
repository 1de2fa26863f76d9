"""Extracting one source from a URL: download (or page) into a scratch folder, from which the extract
DAG lands, parses and loads the files as any others (``sinfonia extract SOURCE --from URL``).

A Socrata resource (``…/resource/<id>.json``) is paged into JSON files; any other URL is one
file. Downloads go to a scratch folder under the state folder and are removed once landed; the
landing zone keeps the bytes, and ``meta.landed_file.origin`` the URL they came from.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sinfonia import config
from sinfonia.ingest.http import Policy, fetch, socrata_pages
from sinfonia.ingest.locations import Location, guess_expect

SOCRATA_RESOURCE = re.compile(r"/resource/([a-z0-9]{4}-[a-z0-9]{4})\.json$")


def is_url(text: str) -> bool:
    return urlsplit(str(text)).scheme in ("http", "https")


def policy_from_env() -> Policy:
    """The default policy, with ``SINFONIA_HTTP_RETRIES`` / ``SINFONIA_HTTP_TIMEOUT`` (s) if set."""
    p = Policy()
    retries = os.environ.get("SINFONIA_HTTP_RETRIES")
    timeout = os.environ.get("SINFONIA_HTTP_TIMEOUT")
    return Policy(connect_timeout=float(timeout) if timeout else p.connect_timeout,
                  read_timeout=float(timeout) if timeout else p.read_timeout,
                  retries=int(retries) if retries else p.retries)


def _file_name(url: str, source: str, expect: str | None) -> str:
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    name = re.sub(r"[^\w .()\-]", "_", name).strip()
    return name if "." in name else f"{source}.{expect or 'dat'}"


def download(source: str, loc: Location, folder: Path, policy: Policy | None = None) -> dict[Path, str]:
    """Fetch a location into ``folder``; returns each file with the URL it came from."""
    policy = policy or policy_from_env()
    match = SOCRATA_RESOURCE.search(urlsplit(loc.url).path)
    if loc.kind == "socrata" or match:
        dataset = match.group(1) if match else source
        pages = socrata_pages(loc.url, folder, order=loc.order or ":id", prefix=f"{dataset}-page",
                              policy=policy)
        return {p: loc.url for p in pages}
    path = fetch(loc.url, folder / (loc.file_name or _file_name(loc.url, source, loc.expect)),
                 expect=loc.expect, sha256=loc.sha256, policy=policy)
    return {path: loc.url}


def is_remote(text: str) -> bool:
    """``--from`` names a URL or a documented location (``published``), not a local path."""
    from sinfonia.ingest.locations import KEYWORDS

    return (text in KEYWORDS and not Path(text).exists()) or is_url(text)


@contextmanager
def downloaded(source: str, where: str, say=print) -> Iterator[dict[Path, str]]:
    """``--from URL`` or ``--from published`` (the documented location, locations.py) fetched into
    a scratch folder under the state folder, removed on exit: each file with the URL it came from."""
    import logging
    import sys

    from sinfonia.ingest.locations import KEYWORDS, location

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    for noisy in ("urllib3", "requests"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    loc = location(source) if where in KEYWORDS else location_for_url(source, where)
    say(f"{source}: fetching {loc.url}")
    scratch = config.state_dir() / "downloads" / uuid.uuid4().hex[:12]
    try:
        yield download(source, loc, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def location_for_url(source: str, url: str) -> Location:
    kind = "socrata" if SOCRATA_RESOURCE.search(urlsplit(url).path) else "file"
    return Location(source, kind, url, guess_expect(url) or ("json" if kind == "socrata" else None))


@contextmanager
def dag_conf(source: str, where: str, year: int | None = None, force: bool = False, say=print) -> Iterator[dict]:
    """The extract DAG's run configuration for the files of one ``source`` at ``where`` (a file, a
    sources folder, the source's own folder, a URL or ``published``: downloaded first, into a scratch
    folder kept until the block ends): only those files, their origins, the period, ``force``."""
    from contextlib import nullcontext

    from sinfonia.ingest import sources
    from sinfonia.ingest.extract import NoSourceFiles, source_files

    if source not in sources.SOURCES:
        raise NoSourceFiles(f"unknown source {source!r}; known: {', '.join(sources.SOURCES)}")
    remote = is_remote(where)
    paths, folder = (None, None) if remote else source_files(Path(where), source)
    with downloaded(source, where, say=say) if remote else nullcontext() as origins:
        yield {"files": {source: [str(p) for p in (list(origins) if remote else paths)]},
               "sources_dir": str(folder) if folder else None,
               "origins": {str(k): v for k, v in (origins or {}).items()},
               "period": str(year) if year else None, "force": force}
